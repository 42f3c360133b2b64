ALTER TABLE oauth_clients DROP COLUMN metadata_fetched_at;
DROP INDEX oauth_consents_client;
DROP INDEX oauth_codes_grant;
ALTER TABLE oauth_tokens DROP COLUMN replacement_sealed;
