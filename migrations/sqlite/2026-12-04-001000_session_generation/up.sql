-- Browser sessions live in a signed, encrypted cookie with nothing on the server, so a cookie
-- saved before signing out would sign in again afterwards. Each session carries the user's
-- generation from when it began; signing out (and a password change) moves the generation on,
-- and every session that carries an older one is refused.
ALTER TABLE users ADD COLUMN session_generation BIGINT NOT NULL DEFAULT 0;
