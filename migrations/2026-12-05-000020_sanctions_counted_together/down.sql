CREATE INDEX sanctions_running_idx ON sanctions (kind, member_id)
    WHERE starts_at IS NOT NULL AND ended_kind IS DISTINCT FROM 'reverted';
DROP TRIGGER sanctions_inserted ON sanctions;
DROP TRIGGER sanctions_counted ON sanctions;
DROP TRIGGER sanctions_changed ON sanctions;
CREATE TRIGGER sanctions_counted AFTER INSERT OR DELETE ON sanctions
    FOR EACH ROW EXECUTE FUNCTION memberd_count_sanctions();
CREATE TRIGGER sanctions_changed AFTER INSERT OR UPDATE OR DELETE ON sanctions
    FOR EACH ROW EXECUTE FUNCTION memberd_member_row_changed();
DROP FUNCTION memberd_sanctions_inserted();
