-- A remembered consent holds the redirect URI the user approved: the consent page is skipped
-- only for that exact URI (and only for confidential clients). Consents remembered before have
-- none, so their next authorization asks once more.
ALTER TABLE oauth_consents ADD COLUMN redirect_uri TEXT;
-- Whether the authorization request named its redirect URI: then the token request must name
-- the same one (RFC 6749 §4.1.3).
ALTER TABLE oauth_codes ADD COLUMN redirect_uri_sent BOOLEAN NOT NULL DEFAULT TRUE;
