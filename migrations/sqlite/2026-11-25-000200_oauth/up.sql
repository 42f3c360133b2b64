-- Refresh rotation grace window: the pair that replaced a refresh token, sealed under a key
-- derived from that (old) refresh token, so only its holder can read it back within the window.
ALTER TABLE oauth_tokens ADD COLUMN replacement_sealed TEXT;
CREATE INDEX oauth_codes_grant ON oauth_codes (grant_id);
CREATE INDEX oauth_consents_client ON oauth_consents (client_id);
-- Client ID Metadata Documents: when the cached document was fetched.
ALTER TABLE oauth_clients ADD COLUMN metadata_fetched_at TIMESTAMP;
