DROP INDEX sessions_created_at;
DROP INDEX audit_log_created_at;
DROP TRIGGER members_changed ON members;
CREATE TRIGGER members_changed AFTER UPDATE OF
        id, username, username_skeleton, email, email_key, password_hash, is_active, is_staff, is_superuser,
        is_system, locale, date_joined, biography, website, avatar_url, signature, show_email, show_signature,
        hover_menus, email_on_private_message
    OR DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION memberd_row_changed('m');
ALTER TABLE members DROP CONSTRAINT members_deactivated_is_inactive;
ALTER TABLE members DROP COLUMN deactivated_at;
