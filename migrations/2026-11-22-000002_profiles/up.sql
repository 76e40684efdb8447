-- Profiles and preferences. Empty strings mean "not set".
ALTER TABLE members
    ADD COLUMN biography TEXT NOT NULL DEFAULT '',
    ADD COLUMN website TEXT NOT NULL DEFAULT '',
    ADD COLUMN avatar_url TEXT NOT NULL DEFAULT '',
    ADD COLUMN signature TEXT NOT NULL DEFAULT '',
    ADD COLUMN show_email BOOLEAN NOT NULL DEFAULT FALSE,
    ADD COLUMN show_signature BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN hover_menus BOOLEAN NOT NULL DEFAULT TRUE,
    ADD COLUMN email_on_private_message BOOLEAN NOT NULL DEFAULT TRUE,
    -- Built-in members (the anonymous placeholder) are never listed, never log in.
    ADD COLUMN is_system BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX members_date_joined_idx ON members (date_joined);

-- Named sets of members; the configured bot group makes its members bots.
CREATE TABLE groups (
    id BIGSERIAL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE member_groups (
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    group_id BIGINT NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    PRIMARY KEY (member_id, group_id)
);
CREATE INDEX member_groups_group_idx ON member_groups (group_id);

-- Every address a member logged in from, kept MEMBERD_IP_RETENTION_DAYS.
CREATE TABLE member_ips (
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    ip TEXT NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL,
    last_seen_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (member_id, ip)
);
CREATE INDEX member_ips_ip_idx ON member_ips (ip);
CREATE INDEX member_ips_last_seen_idx ON member_ips (last_seen_at);

CREATE TABLE username_history (
    id BIGSERIAL PRIMARY KEY,
    member_id BIGINT NOT NULL REFERENCES members (id) ON DELETE CASCADE,
    old_username TEXT NOT NULL,
    new_username TEXT NOT NULL,
    changed_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX username_history_member_idx ON username_history (member_id);

-- What unregistered staff wrote (sanctions, karma notes, audit entries) is
-- attributed to this member. Its password hash is not a hash: no password matches.
INSERT INTO members (username, username_skeleton, email, email_key, password_hash, is_active, locale, date_joined, is_system)
VALUES ('[deleted]', '[deleted]', 'deleted@memberd.invalid', 'deleted@memberd.invalid', '!', FALSE, 'en', now(), TRUE);
