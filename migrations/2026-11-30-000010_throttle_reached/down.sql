DROP FUNCTION memberd_throttle_reached();
