ALTER TABLE oauth_codes DROP COLUMN redirect_uri_sent;
ALTER TABLE oauth_consents DROP COLUMN redirect_uri;
