-- Replicas learn of changes to the rows they keep in memory by reading this
-- table, no longer by NOTIFY: a transaction that notifies takes one
-- cluster-wide lock at commit and holds it across its WAL flush, so every
-- sanction (each one announces its member) committed one at a time.
-- memberd_changed() writes a row per thing changed in the changing
-- transaction; each replica's listener reads the rows of the transactions
-- that committed since it last looked (those at or above its previous
-- snapshot's xmax, or running then), and the rows of transactions that
-- ended a minute ago are pruned. The session setting
-- memberd.changed is kept for the connection that made the change.
CREATE TABLE cache_changes (
    txid xid8 NOT NULL DEFAULT pg_current_xact_id(),
    what TEXT NOT NULL
);
CREATE INDEX cache_changes_txid_idx ON cache_changes (txid);

-- A row per change, duplicates and all: remembering what this transaction
-- wrote already (a transaction-local setting) cost more than the rows.
CREATE OR REPLACE FUNCTION memberd_changed(what TEXT) RETURNS VOID LANGUAGE plpgsql AS $$
DECLARE
    seen TEXT := coalesce(current_setting('memberd.changed', true), '');
BEGIN
    INSERT INTO cache_changes (what) VALUES (what);
    IF seen = '*' OR position(' ' || what || ' ' IN ' ' || seen) > 0 THEN
        RETURN;
    END IF;
    IF length(seen) > 8000 THEN
        PERFORM set_config('memberd.changed', '*', false);
    ELSE
        PERFORM set_config('memberd.changed', seen || what || ' ', false);
    END IF;
END $$;
