DROP TRIGGER sanctions_counted ON sanctions;
DROP FUNCTION memberd_count_sanctions();
DROP TABLE sanction_counts;
DROP INDEX sanctions_global_bans_idx;
CREATE INDEX members_date_joined_idx ON members (date_joined);
DROP INDEX members_directory_joined_idx;
DROP INDEX members_directory_username_idx;
