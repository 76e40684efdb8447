DROP TABLE spent_passkey_ceremonies;
CREATE TABLE passkey_logins (
    id UUID PRIMARY KEY,
    state JSONB NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX passkey_logins_expiry_idx ON passkey_logins (expires_at);
