ALTER TABLE login_throttles DROP COLUMN previous_failure_at;
