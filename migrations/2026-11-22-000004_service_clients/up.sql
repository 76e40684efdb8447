-- API keys of other services. Only the SHA-256 of a key is kept; the key is
-- shown once, at creation. key_prefix lets operators recognise a key.
CREATE TABLE service_clients (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL,
    scopes TEXT[] NOT NULL,
    key_hash BYTEA NOT NULL UNIQUE,
    key_prefix TEXT NOT NULL,
    created_by BIGINT NOT NULL REFERENCES members (id),
    created_at TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);
