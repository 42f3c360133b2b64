-- One row per grant, rotated in place (issue 22). A refresh token is now
-- `<row id>.<generation>.<secret>.<mac>`: found by the row's primary key, its generation checked
-- against `generation`, its secret against `secret_hash`. A rotation is one UPDATE of these
-- columns, none of them indexed, where it was two INSERTs into a table of five indexes.
-- Rows written before keep `generation` 0 and no `secret_hash`: their opaque tokens are still
-- found by `token_hash`, and rotate once into the new form.
ALTER TABLE oauth_tokens ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;
-- SHA-256 of the current generation's secret; NULL on access-token rows and legacy rows.
ALTER TABLE oauth_tokens ADD COLUMN secret_hash TEXT;
-- The salt of the last rotation: the current secret is HMAC(previous secret, salt), so within
-- the grace window the holder of the previous token (and only they: the server never keeps a
-- secret) gets the same pair back.
ALTER TABLE oauth_tokens ADD COLUMN rotation_salt TEXT;
