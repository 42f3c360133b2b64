ALTER TABLE oauth_tokens DROP COLUMN rotation_salt;
ALTER TABLE oauth_tokens DROP COLUMN secret_hash;
ALTER TABLE oauth_tokens DROP COLUMN generation;
