DROP INDEX connector_attempts_user;
DROP INDEX mcp_sessions_user;
DROP INDEX oauth_codes_client;
DROP INDEX oauth_codes_user;
-- The unique jti comes back as an index (equivalent for lookups and uniqueness).
DROP INDEX oauth_tokens_parent;
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at);
CREATE UNIQUE INDEX oauth_tokens_jti ON oauth_tokens (jti);
