-- The failure before the last one, kept by the upsert that counts an attempt
-- so that it can answer with the counts as they were before it. Counting
-- then locks each counter once, in the scopes' order, whether or not the row
-- existed: reading the counts first and inserting the missing ones after
-- locked rows out of that order, and parallel attempts on one login
-- deadlocked.
ALTER TABLE login_throttles ADD COLUMN previous_failure_at TIMESTAMPTZ;
