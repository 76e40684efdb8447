-- How each session's member proved who they are (RFC 8176 `amr` values):
-- every session so far began with a password.
ALTER TABLE sessions ADD COLUMN amr text[] NOT NULL DEFAULT '{pwd}';
