CREATE OR REPLACE FUNCTION memberd_changed(what TEXT) RETURNS VOID LANGUAGE plpgsql AS $$
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
DROP TABLE cache_changes;
