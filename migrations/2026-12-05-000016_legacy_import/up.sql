-- Records brought over from another community software (`memberd import
-- zds`) keep their id there, `zds:<model>:<pk>`, so that importing the same
-- file again updates them instead of adding them twice.
ALTER TABLE members ADD COLUMN legacy_id TEXT UNIQUE;
ALTER TABLE sanctions ADD COLUMN legacy_id TEXT UNIQUE;
ALTER TABLE karma_notes ADD COLUMN legacy_id TEXT UNIQUE;

-- An imported account may have no usable address (none, one the syntax
-- check refuses, or one another account keeps): its e-mail is empty and it
-- has no key, so that it neither logs in by address nor blocks one.
ALTER TABLE members ALTER COLUMN email_key DROP NOT NULL;
ALTER TABLE members ADD CONSTRAINT members_email_key_matches
    CHECK ((email = '') = (email_key IS NULL));

-- Zeste de Savoir replaced a running sanction of a kind by the next one
-- instead of queueing it: the imported history says so.
ALTER TABLE sanctions DROP CONSTRAINT sanctions_ended_kind_check;
ALTER TABLE sanctions ADD CONSTRAINT sanctions_ended_kind_check
    CHECK (ended_kind IN ('forgiven', 'reverted', 'lifted', 'replaced'));

-- A balance carried over from an imported karma total is one note by
-- memberd itself, whatever its size.
ALTER TABLE karma_notes DROP CONSTRAINT karma_notes_karma_check;
ALTER TABLE karma_notes ADD CONSTRAINT karma_notes_karma_check
    CHECK (karma BETWEEN -100 AND 100 OR author_id IS NULL);

-- Every column but login and visit times announces a change (the member cache).
DROP TRIGGER members_changed ON members;
CREATE TRIGGER members_changed AFTER UPDATE OF
        id, username, username_skeleton, email, email_key, password_hash, is_active, is_staff, is_superuser,
        is_system, locale, date_joined, biography, website, avatar_url, signature, show_email, show_signature,
        hover_menus, email_on_private_message, deactivated_at, legacy_id
    OR DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION memberd_row_changed('m');
