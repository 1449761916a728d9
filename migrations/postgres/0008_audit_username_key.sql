-- Audit lookups by name, in any case, and for accounts deleted since: each record keeps the
-- lower-case key of the name it was written under (the application writes it; the records
-- from before this migration get SQL's lower()).
ALTER TABLE audit ADD COLUMN username_key TEXT;
UPDATE audit SET username_key = lower(username) WHERE username IS NOT NULL;
DROP INDEX audit_by_username;
CREATE INDEX audit_by_username_key ON audit (username_key, at);
