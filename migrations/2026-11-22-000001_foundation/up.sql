-- Members. Usernames are unique by their UTS #39 skeleton (case-folded), which
-- also makes them unique case-insensitively; e-mail addresses by their
-- lower-cased form, kept in its own column so lookups need no function index.
CREATE TABLE members (
    id BIGSERIAL PRIMARY KEY,
    username TEXT NOT NULL,
    username_skeleton TEXT NOT NULL,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    is_active BOOLEAN NOT NULL DEFAULT FALSE,
    is_staff BOOLEAN NOT NULL DEFAULT FALSE,
    is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
    locale TEXT NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'fr')),
    date_joined TIMESTAMPTZ NOT NULL,
    last_login_at TIMESTAMPTZ,
    last_visit_at TIMESTAMPTZ,
    last_ip TEXT
);
CREATE UNIQUE INDEX members_username_key ON members (username);
CREATE UNIQUE INDEX members_username_skeleton_key ON members (username_skeleton);
CREATE UNIQUE INDEX members_email_key_key ON members (email_key);
-- Login by username is case-insensitive; text_pattern_ops also serves the
-- directory's prefix search.
CREATE INDEX members_username_lower_idx ON members (lower(username) text_pattern_ops);

-- E-mailed single-use tokens, stored as SHA-256 of the secret sent out.
CREATE TABLE member_tokens (
    id BIGSERIAL PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('registration', 'password_reset', 'email_change')),
    token_hash BYTEA NOT NULL,
    payload TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ
);
CREATE UNIQUE INDEX member_tokens_token_hash_key ON member_tokens (token_hash);
CREATE INDEX member_tokens_member_kind_idx ON member_tokens (member_id, kind);

-- A session is what a login opens and a refresh renews; access tokens carry
-- its id so that ending it refuses them at once.
CREATE TABLE sessions (
    id UUID PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    remember_me BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    refreshed_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    ip TEXT,
    user_agent TEXT,
    revoked_at TIMESTAMPTZ,
    revoked_reason TEXT
);
CREATE INDEX sessions_member_idx ON sessions (member_id);

-- Every refresh token ever issued for a session, so that presenting a rotated
-- one is recognised as reuse rather than as an unknown token.
CREATE TABLE refresh_tokens (
    token_hash BYTEA PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    rotated_at TIMESTAMPTZ
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- Failed-login counters per scope: 'login_ip' (identifier and IP), 'login'
-- (identifier from any IP), 'ip' (one IP across identifiers; identifier '').
-- The identifier is the case-folded login as typed, whether or not a member
-- has it, so throttling reveals nothing about who exists.
CREATE TABLE login_throttles (
    scope TEXT NOT NULL,
    identifier TEXT NOT NULL,
    ip TEXT NOT NULL,
    failures INTEGER NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (scope, identifier, ip)
);

-- Fixed-window request counters shared by every replica.
CREATE TABLE rate_limits (
    bucket TEXT NOT NULL,
    key TEXT NOT NULL,
    window_start TIMESTAMPTZ NOT NULL,
    hits INTEGER NOT NULL,
    PRIMARY KEY (bucket, key)
);

-- The outbox: written in the transaction of the change it describes.
-- member_id has no foreign key because events outlive members.
CREATE TABLE events (
    id BIGSERIAL PRIMARY KEY,
    event_type TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    member_id BIGINT,
    data JSONB NOT NULL
);
CREATE INDEX events_type_idx ON events (event_type, id);

CREATE TABLE jwt_keys (
    kid TEXT PRIMARY KEY,
    private_key_pem TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE forbidden_email_domains (
    domain TEXT PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL
);

-- One-off facts about this installation, such as "the shipped domain list was seeded".
CREATE TABLE app_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
