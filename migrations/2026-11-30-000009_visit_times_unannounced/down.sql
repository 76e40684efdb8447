DROP TRIGGER members_changed ON members;
CREATE TRIGGER members_changed AFTER UPDATE OR DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION memberd_row_changed('m');
