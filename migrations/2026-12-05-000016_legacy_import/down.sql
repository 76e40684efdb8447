ALTER TABLE karma_notes DROP CONSTRAINT karma_notes_karma_check;
ALTER TABLE karma_notes ADD CONSTRAINT karma_notes_karma_check CHECK (karma BETWEEN -100 AND 100);
ALTER TABLE sanctions DROP CONSTRAINT sanctions_ended_kind_check;
ALTER TABLE sanctions ADD CONSTRAINT sanctions_ended_kind_check
    CHECK (ended_kind IN ('forgiven', 'reverted', 'lifted'));
ALTER TABLE members DROP CONSTRAINT members_email_key_matches;
ALTER TABLE members ALTER COLUMN email_key SET NOT NULL;
ALTER TABLE karma_notes DROP COLUMN legacy_id;
ALTER TABLE sanctions DROP COLUMN legacy_id;
ALTER TABLE members DROP COLUMN legacy_id;
