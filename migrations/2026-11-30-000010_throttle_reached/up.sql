-- Raised by the statement that counts a login attempt on its own (see
-- auth::store::count_attempt_below_thresholds) when a counter has reached its
-- scope's threshold: the statement fails whole, so it counts nothing, and the
-- attempt is counted again in a transaction where the rule of waits decides.
CREATE FUNCTION memberd_throttle_reached() RETURNS BOOLEAN LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'memberd_throttle_reached';
END $$;
