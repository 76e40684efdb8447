-- Sanctions and lifts, one row each. starts_at and ends_at are derived from
-- the member's whole queue by sanctions::model and rewritten whenever the
-- queue changes, so that SQL can ask "running at now()" without a job:
-- a NULL starts_at never ran (yet); a NULL ends_at with a start is permanent.
CREATE TABLE sanctions (
    id BIGSERIAL PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('read_only', 'ban', 'lift_read_only', 'lift_ban')),
    resource TEXT CHECK (length(resource) BETWEEN 1 AND 200),
    reason TEXT NOT NULL,
    private_note TEXT NOT NULL DEFAULT '',
    duration_seconds BIGINT CHECK (duration_seconds > 0),
    moderator_id BIGINT NOT NULL REFERENCES members (id),
    created_at TIMESTAMPTZ NOT NULL,
    ended_kind TEXT CHECK (ended_kind IN ('forgiven', 'reverted', 'lifted')),
    ended_at TIMESTAMPTZ,
    ended_by BIGINT REFERENCES members (id),
    end_reason TEXT,
    starts_at TIMESTAMPTZ,
    ends_at TIMESTAMPTZ,
    -- Whether sanction.expired was written for it.
    expiry_recorded BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX sanctions_member_idx ON sanctions (member_id, created_at, id);
CREATE INDEX sanctions_moderator_idx ON sanctions (moderator_id);
CREATE INDEX sanctions_running_idx ON sanctions (kind, member_id) WHERE starts_at IS NOT NULL AND ended_kind IS DISTINCT FROM 'reverted';
CREATE INDEX sanctions_unexpired_idx ON sanctions (ends_at) WHERE NOT expiry_recorded AND ends_at IS NOT NULL;

CREATE TABLE karma_notes (
    id BIGSERIAL PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    -- NULL: written by memberd itself (a rename).
    author_id BIGINT REFERENCES members (id),
    note TEXT NOT NULL,
    karma INTEGER NOT NULL CHECK (karma BETWEEN -100 AND 100),
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX karma_notes_member_idx ON karma_notes (member_id, created_at);
CREATE INDEX karma_notes_author_idx ON karma_notes (author_id);

-- Every staff action: who, what, about whom, why, when, from where.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    actor_id BIGINT NOT NULL REFERENCES members (id),
    action TEXT NOT NULL,
    target_member_id BIGINT,
    target TEXT,
    reason TEXT,
    ip TEXT,
    details JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_target_idx ON audit_log (target_member_id, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
