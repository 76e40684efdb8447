DELETE FROM member_tokens WHERE kind = 'appeal';
ALTER TABLE member_tokens DROP CONSTRAINT member_tokens_kind_check;
ALTER TABLE member_tokens ADD CONSTRAINT member_tokens_kind_check
    CHECK (kind IN ('registration', 'password_reset', 'email_change'));
DROP TABLE appeals;
DROP TABLE reporter_tallies;
DROP TABLE report_entries;
DROP TABLE reports;
