-- A passwordless login's ceremony now travels sealed with the client
-- (src/factors/ceremony.rs) instead of waiting here: what is kept is the
-- ceremonies answered, until they lapse, so that each is answered once.
-- Ceremonies waiting now were started by the old code; they are dropped
-- (their logins ask for new options).
DROP TABLE passkey_logins;
CREATE TABLE spent_passkey_ceremonies (
    id UUID PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX spent_passkey_ceremonies_expiry_idx ON spent_passkey_ceremonies (expires_at);
