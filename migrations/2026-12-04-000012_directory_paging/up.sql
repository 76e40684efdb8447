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

-- How many sanctions and lifts each member's history holds, kept current by
-- the transaction that writes or deletes one (a row of their own, so that
-- the member's row and its cache are left alone): a page of a long history
-- is counted without reading it.
CREATE TABLE sanction_counts (
    member_id BIGINT PRIMARY KEY REFERENCES members (id) ON DELETE CASCADE,
    sanctions BIGINT NOT NULL CHECK (sanctions >= 0)
);
INSERT INTO sanction_counts (member_id, sanctions)
    SELECT member_id, count(*) FROM sanctions GROUP BY member_id;
CREATE FUNCTION memberd_count_sanctions() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO sanction_counts (member_id, sanctions) VALUES (NEW.member_id, 1)
            ON CONFLICT (member_id) DO UPDATE SET sanctions = sanction_counts.sanctions + 1;
        RETURN NEW;
    END IF;
    -- A member's deletion may have taken their count first.
    UPDATE sanction_counts SET sanctions = sanctions - 1 WHERE member_id = OLD.member_id;
    RETURN OLD;
END
$$;
CREATE TRIGGER sanctions_counted AFTER INSERT OR DELETE ON sanctions
    FOR EACH ROW EXECUTE FUNCTION memberd_count_sanctions();
