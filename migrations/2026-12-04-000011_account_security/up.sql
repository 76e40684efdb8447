-- Never validated and deactivated by a superuser are two states: an account
-- that was deactivated must not come back through anything its member can do
-- alone (resend, an old activation link, a reset). `is_active` stays what
-- decides whether a session may be opened; `deactivated_at` says why not.
ALTER TABLE members ADD COLUMN deactivated_at TIMESTAMPTZ;
ALTER TABLE members ADD CONSTRAINT members_deactivated_is_inactive
    CHECK (deactivated_at IS NULL OR NOT is_active);

-- The column is announced like every other but the visit times.
DROP TRIGGER members_changed ON members;
CREATE TRIGGER members_changed AFTER UPDATE OF
        id, username, username_skeleton, email, email_key, password_hash, is_active, is_staff, is_superuser,
        is_system, locale, date_joined, biography, website, avatar_url, signature, show_email, show_signature,
        hover_menus, email_on_private_message, deactivated_at
    OR DELETE ON members
    FOR EACH ROW EXECUTE FUNCTION memberd_row_changed('m');

-- The retention job reads these by age.
CREATE INDEX audit_log_created_at ON audit_log (created_at) WHERE ip IS NOT NULL;
CREATE INDEX sessions_created_at ON sessions (created_at) WHERE ip IS NOT NULL OR user_agent IS NOT NULL;
