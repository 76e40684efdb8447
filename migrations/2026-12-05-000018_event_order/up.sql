-- The feed's order without a lock between writers: each event carries the
-- id of the transaction that wrote it, and readers take events in (txid, id)
-- order only below the oldest transaction still running
-- (pg_snapshot_xmin), so an event that commits late is never passed by a
-- cursor. Events written before this migration read as transaction 0, in
-- id order, before every later one: cursors of plain ids still resume.
ALTER TABLE events ADD COLUMN txid xid8 NOT NULL DEFAULT '0';
ALTER TABLE events ALTER COLUMN txid SET DEFAULT pg_current_xact_id();
CREATE INDEX events_order_idx ON events (txid, id);

-- A webhook's cursor is the same pair.
ALTER TABLE webhooks ADD COLUMN last_event_txid xid8 NOT NULL DEFAULT '0';
