DELETE FROM members WHERE is_system;
DROP TABLE username_history;
DROP TABLE member_ips;
DROP TABLE member_groups;
DROP TABLE groups;
DROP INDEX members_date_joined_idx;
ALTER TABLE members
    DROP COLUMN biography,
    DROP COLUMN website,
    DROP COLUMN avatar_url,
    DROP COLUMN signature,
    DROP COLUMN show_email,
    DROP COLUMN show_signature,
    DROP COLUMN hover_menus,
    DROP COLUMN email_on_private_message,
    DROP COLUMN is_system;
