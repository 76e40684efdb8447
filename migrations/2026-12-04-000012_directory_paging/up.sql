-- The directory reads a page's ids from one of these indexes alone, listed
-- members only, and then the rows of those ids: a deep page skips index
-- entries, not rows. Usernames sort by code point (COLLATE "C") so that one
-- index serves both the order and the prefix search, whatever the database's
-- collation. Each carries the username, without which PostgreSQL reads no
-- expression index alone, and the username index the date, for a prefix
-- search sorted by date.
CREATE INDEX members_directory_username_idx ON members ((lower(username) COLLATE "C"), id)
    INCLUDE (username, date_joined) WHERE is_active AND NOT is_system;
CREATE INDEX members_directory_joined_idx ON members (date_joined, id)
    INCLUDE (username) WHERE is_active AND NOT is_system;
DROP INDEX members_date_joined_idx;

-- Members under a global ban now: few, found among the bans that have not
-- ended, and set aside by one hashed look-up per listed member.
CREATE INDEX sanctions_global_bans_idx ON sanctions ((coalesce(ends_at, 'infinity'::timestamptz)))
    INCLUDE (member_id, starts_at) WHERE kind = 'ban' AND resource IS NULL;
