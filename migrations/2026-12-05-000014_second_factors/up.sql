-- Second factors: TOTP secrets and passkeys, each pending until the member
-- proves it works once (`confirmed_at`).
CREATE TABLE member_factors (
    id UUID PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('totp', 'passkey')),
    name TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    confirmed_at TIMESTAMPTZ,
    last_used_at TIMESTAMPTZ,
    -- TOTP: the shared secret, and the last time step a code was accepted
    -- for, so that no code of that step or an older one is accepted again.
    totp_secret BYTEA,
    totp_last_step BIGINT,
    -- Passkey: the credential id, and webauthn-rs's record of it (public key,
    -- signature counter, backup flags) or, while pending, its ceremony.
    credential_id BYTEA UNIQUE,
    passkey JSONB,
    -- The WebAuthn user handle the member's passkeys carry: random, the same
    -- for all of them, so that a passkey found by discovery names its member.
    passkey_user_id UUID,
    CHECK ((kind = 'totp') = (totp_secret IS NOT NULL))
);
CREATE INDEX member_factors_member_idx ON member_factors (member_id, created_at);

-- Single-use recovery codes, as SHA-256 of their canonical form.
CREATE TABLE recovery_codes (
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    PRIMARY KEY (member_id, code_hash)
);

-- A login halfway: the password was right, a second factor is due. The
-- token is single-use and short-lived; only its hash is kept.
CREATE TABLE mfa_challenges (
    token_hash BYTEA PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    remember_me BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at TIMESTAMPTZ,
    -- The passkey ceremony started for it, if one was asked for.
    passkey_state JSONB
);
CREATE INDEX mfa_challenges_expiry_idx ON mfa_challenges (expires_at);

-- Wrong second-factor answers per member: each one past the threshold must
-- wait longer, as for passwords; never a lock.
CREATE TABLE factor_throttles (
    member_id BIGINT PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    failures INTEGER NOT NULL,
    last_failure_at TIMESTAMPTZ NOT NULL
);

-- Passwordless logins started: the WebAuthn ceremony waiting for a passkey's
-- answer, single-use (taken when answered) and short-lived.
CREATE TABLE passkey_logins (
    id UUID PRIMARY KEY,
    state JSONB NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX passkey_logins_expiry_idx ON passkey_logins (expires_at);
