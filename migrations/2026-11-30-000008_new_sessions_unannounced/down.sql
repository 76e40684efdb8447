DROP TRIGGER sessions_changed ON sessions;
CREATE TRIGGER sessions_changed AFTER INSERT OR UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION memberd_member_row_changed();
