-- The indexes of oauth_tokens, fitted to what reads and writes them (the SQLite migration of
-- the same name says more).
-- * `parent_id` gets an index: deleting a token sets the `parent_id` of the token issued from it
--   to NULL, and without an index each deleted row scanned the table.
-- * `jti UNIQUE` goes: an access token is found by `token_hash`, the hash of its jti, which is
--   unique.
-- * `expires_at` goes: only the purge, every ten minutes, asks for expired tokens.
CREATE INDEX oauth_tokens_parent ON oauth_tokens (parent_id);
ALTER TABLE oauth_tokens DROP CONSTRAINT oauth_tokens_jti_key;
DROP INDEX oauth_tokens_expires;

-- Every other foreign key without an index of its own: deleting a user or a client looked for
-- their rows here by scanning. A test holds every foreign key to an index (tests/it/storage.rs).
CREATE INDEX oauth_codes_user ON oauth_codes (user_id);
CREATE INDEX oauth_codes_client ON oauth_codes (client_id);
CREATE INDEX mcp_sessions_user ON mcp_sessions (user_id);
CREATE INDEX connector_attempts_user ON connector_attempts (user_id);
