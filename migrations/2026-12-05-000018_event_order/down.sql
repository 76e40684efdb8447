ALTER TABLE webhooks DROP COLUMN last_event_txid;
DROP INDEX events_order_idx;
ALTER TABLE events DROP COLUMN txid;
