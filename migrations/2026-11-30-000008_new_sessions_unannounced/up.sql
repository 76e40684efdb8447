-- A new session needs no announcement: the cache holds a session only once
-- it has been looked up by id, and never holds an id as absent. Every login
-- paid for one trigger call it did not need.
DROP TRIGGER sessions_changed ON sessions;
CREATE TRIGGER sessions_changed AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION memberd_member_row_changed();
