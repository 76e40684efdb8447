-- The moderation case file: reports by members about a member (and maybe a
-- resource of another service), the staff who claim and resolve them, and
-- appeals of sanctions.

-- One report per reported member and resource while it is open; reporters
-- who come later join it (report_entries) instead of opening another.
CREATE TABLE reports (
    id BIGSERIAL PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    resource TEXT CHECK (length(resource) BETWEEN 1 AND 200),
    state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'claimed', 'resolved', 'dismissed')),
    assignee_id BIGINT REFERENCES members (id),
    claimed_at TIMESTAMPTZ,
    -- Staff only.
    resolution_note TEXT,
    -- To the reporters.
    resolution_message TEXT,
    resolved_by BIGINT REFERENCES members (id),
    resolved_at TIMESTAMPTZ,
    sanction_id BIGINT REFERENCES sanctions (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL,
    CHECK ((state = 'claimed') = (assignee_id IS NOT NULL AND resolved_at IS NULL)),
    CHECK ((state IN ('resolved', 'dismissed')) = (resolved_at IS NOT NULL)),
    CHECK (state = 'resolved' OR sanction_id IS NULL)
);
CREATE UNIQUE INDEX reports_one_open_idx ON reports (member_id, coalesce(resource, ''))
    WHERE state IN ('open', 'claimed');
-- The staff queue, oldest first.
CREATE INDEX reports_queue_idx ON reports (created_at, id) WHERE state IN ('open', 'claimed');
CREATE INDEX reports_closed_idx ON reports (resolved_at DESC, id DESC) WHERE resolved_at IS NOT NULL;
CREATE INDEX reports_member_idx ON reports (member_id, created_at);
CREATE INDEX reports_assignee_idx ON reports (assignee_id) WHERE assignee_id IS NOT NULL;
CREATE INDEX reports_resolved_by_idx ON reports (resolved_by) WHERE resolved_by IS NOT NULL;
CREATE INDEX reports_sanction_idx ON reports (sanction_id) WHERE sanction_id IS NOT NULL;

-- What each reporter said. Reporters are never shown to the reported member
-- nor to each other.
CREATE TABLE report_entries (
    report_id BIGINT NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    reporter_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    reason TEXT NOT NULL
        CHECK (reason IN ('spam', 'harassment', 'impersonation', 'inappropriate_profile', 'other')),
    text TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    evidence_url TEXT,
    created_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (report_id, reporter_id)
);
CREATE INDEX report_entries_reporter_idx ON report_entries (reporter_id, created_at);

-- How each reporter's reports ended, for staff to weigh their next ones and
-- for the report limit to slow those dismissed again and again.
CREATE TABLE reporter_tallies (
    member_id BIGINT PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    actioned INTEGER NOT NULL DEFAULT 0 CHECK (actioned >= 0),
    dismissed INTEGER NOT NULL DEFAULT 0 CHECK (dismissed >= 0)
);

-- One appeal per sanction, by its member.
CREATE TABLE appeals (
    id BIGSERIAL PRIMARY KEY,
    sanction_id BIGINT NOT NULL UNIQUE REFERENCES sanctions (id) ON DELETE CASCADE,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    text TEXT NOT NULL CHECK (length(text) BETWEEN 1 AND 2000),
    created_at TIMESTAMPTZ NOT NULL,
    outcome TEXT CHECK (outcome IN ('upheld', 'forgiven', 'reverted', 'reduced')),
    -- Public: e-mailed to the member.
    reason TEXT,
    decided_by BIGINT REFERENCES members (id),
    decided_at TIMESTAMPTZ,
    -- For a reduction: the duration before (NULL: permanent) and after.
    previous_duration_seconds BIGINT,
    reduced_duration_seconds BIGINT CHECK (reduced_duration_seconds > 0),
    CHECK ((outcome IS NULL) = (decided_at IS NULL)),
    CHECK ((outcome = 'reduced') = (reduced_duration_seconds IS NOT NULL))
);
CREATE INDEX appeals_open_idx ON appeals (created_at, id) WHERE outcome IS NULL;
CREATE INDEX appeals_decided_idx ON appeals (decided_at DESC, id DESC) WHERE outcome IS NOT NULL;
CREATE INDEX appeals_member_idx ON appeals (member_id, created_at);
CREATE INDEX appeals_decided_by_idx ON appeals (decided_by) WHERE decided_by IS NOT NULL;

-- Every sanction's e-mail carries a link to appeal it without a session.
ALTER TABLE member_tokens DROP CONSTRAINT member_tokens_kind_check;
ALTER TABLE member_tokens ADD CONSTRAINT member_tokens_kind_check
    CHECK (kind IN ('registration', 'password_reset', 'email_change', 'appeal'));
