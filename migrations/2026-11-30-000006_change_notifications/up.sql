-- Replicas keep in memory what every request asks about a member (the
-- member row, their sessions, their unended sanctions) and about service
-- keys. Every change to those rows is announced here, whichever code path or
-- process made it, so that each replica drops its copy:
--   * NOTIFY memberd_changes with 'm<member id>' or 'c<client id>', delivered
--     to every replica's listener at commit (nothing for a rollback);
--   * the same names collected in the session setting memberd.changed, which
--     the connection that made the change reads right after its work, so that
--     the process that made a change never answers from the old copy, even
--     before its own notification arrives. A setting made in a transaction
--     that rolls back is undone with it. Past a few thousand names it turns
--     into '*': forget everything.
CREATE FUNCTION memberd_changed(what TEXT) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    seen TEXT := coalesce(current_setting('memberd.changed', true), '');
BEGIN
    PERFORM pg_notify('memberd_changes', what);
    IF seen = '*' OR position(' ' || what || ' ' IN ' ' || seen) > 0 THEN
        RETURN;
    END IF;
    IF length(seen) > 8000 THEN
        PERFORM set_config('memberd.changed', '*', false);
    ELSE
        PERFORM set_config('memberd.changed', seen || what || ' ', false);
    END IF;
END $$;

-- What this session's work changed since it last asked, and forget it.
CREATE FUNCTION memberd_take_changes() RETURNS TEXT LANGUAGE plpgsql AS $$
DECLARE
    seen TEXT := coalesce(current_setting('memberd.changed', true), '');
BEGIN
    IF seen <> '' THEN
        PERFORM set_config('memberd.changed', '', false);
    END IF;
    RETURN seen;
END $$;

-- For rows named by their own id; the trigger's argument is the prefix.
CREATE FUNCTION memberd_row_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM memberd_changed(TG_ARGV[0] || OLD.id);
    RETURN NULL;
END $$;

-- For tables whose rows belong to a member through member_id.
CREATE FUNCTION memberd_member_row_changed() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM memberd_changed('m' || NEW.member_id);
    ELSE
        PERFORM memberd_changed('m' || OLD.member_id);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER members_changed AFTER UPDATE OR DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION memberd_row_changed('m');
CREATE TRIGGER sessions_changed AFTER INSERT OR UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION memberd_member_row_changed();
CREATE TRIGGER sanctions_changed AFTER INSERT OR UPDATE OR DELETE ON sanctions
    FOR EACH ROW EXECUTE FUNCTION memberd_member_row_changed();
-- last_used_at is written once a minute and changes nothing a request decides on.
CREATE TRIGGER service_clients_changed AFTER UPDATE OF name, scopes, revoked_at OR DELETE ON service_clients
    FOR EACH ROW EXECUTE FUNCTION memberd_row_changed('c');

-- A member's unended sanctions, and the ended ones whose expiry is not
-- recorded yet, read when their standing is loaded into memory: index
-- ranges, however long their past.
CREATE INDEX sanctions_open_idx ON sanctions (member_id, (coalesce(ends_at, 'infinity'::timestamptz)))
    WHERE kind IN ('ban', 'read_only');
CREATE INDEX sanctions_unrecorded_idx ON sanctions (member_id)
    WHERE NOT expiry_recorded AND kind IN ('ban', 'read_only');
