-- A member's login and visit times, and the address of their last login, are
-- written by every login and every few minutes of activity, and announcing
-- them woke every replica's listener on each login. Nothing a replica decides
-- depends on them being fresh to the second: the replica that writes them
-- drops its own copy, and every replica reloads a member after a minute
-- (src/cache.rs). Every other column is announced; a test checks the list
-- against the table.
DROP TRIGGER members_changed ON members;
CREATE TRIGGER members_changed AFTER UPDATE OF
        id, username, username_skeleton, email, email_key, password_hash, is_active, is_staff, is_superuser,
        is_system, locale, date_joined, biography, website, avatar_url, signature, show_email, show_signature,
        hover_menus, email_on_private_message
    OR DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION memberd_row_changed('m');
