DROP INDEX connector_attempts_user;
DROP INDEX mcp_sessions_user;
DROP INDEX oauth_codes_client;
DROP INDEX oauth_codes_user;
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at);
ALTER TABLE oauth_tokens ADD CONSTRAINT oauth_tokens_jti_key UNIQUE (jti);
DROP INDEX oauth_tokens_parent;
