DROP TRIGGER members_changed ON members;
CREATE TRIGGER members_changed AFTER UPDATE OF
        id, username, username_skeleton, email, email_key, password_hash, is_active, is_staff, is_superuser,
        is_system, locale, date_joined, biography, website, avatar_url, signature, show_email, show_signature,
        hover_menus, email_on_private_message, deactivated_at
    OR DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION memberd_row_changed('m');
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
