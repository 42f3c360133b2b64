-- The indexes of oauth_tokens, fitted to what reads and writes them.
--
-- * `parent_id` gets an index. Deleting a token sets the `parent_id` of the token issued from it
--   to NULL (ON DELETE SET NULL), and without an index each deleted row scanned the whole table:
--   purging 4,000 expired tokens out of 8,000 took 54 s, holding the write lock; with it 0.5 s.
-- * A refresh grant inserts two token rows and updates one, and its cost is mostly the pages it
--   writes to the WAL: every index is one or two more pages a grant (bench/README.md, fourth
--   round). Two indexes go:
--   - `jti UNIQUE`: an access token is now found by `token_hash`, the hash of its jti, as a
--     refresh token is by the hash of its value; `token_hash` is unique, so the jti still is.
--   - `expires_at`: only the purge, every ten minutes, asks for expired tokens; it scans.
--
-- SQLite cannot drop a column's UNIQUE constraint, so the table is rebuilt. The new table's
-- self-reference names the new table, so dropping the old one touches nothing else, and the
-- rename rewrites it. The id sequence carries over: ids are never reused.
CREATE TABLE oauth_tokens_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- 'access' or 'refresh'.
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    -- SHA-256 of the opaque refresh token, or of the access token's jti.
    token_hash TEXT NOT NULL UNIQUE,
    jti TEXT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id BIGINT REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    audience TEXT,
    grant_id TEXT NOT NULL,
    -- The refresh token this one was issued from (rotation chain).
    parent_id BIGINT REFERENCES oauth_tokens_new (id) ON DELETE SET NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    rotated_at TIMESTAMP,
    revoked_at TIMESTAMP,
    replacement_sealed TEXT
);
INSERT INTO oauth_tokens_new (id, kind, token_hash, jti, user_id, client_id, scope, audience,
    grant_id, parent_id, issued_at, expires_at, last_used_at, rotated_at, revoked_at,
    replacement_sealed)
SELECT id, kind, token_hash, jti, user_id, client_id, scope, audience, grant_id, parent_id,
    issued_at, expires_at, last_used_at, rotated_at, revoked_at, replacement_sealed
FROM oauth_tokens ORDER BY id;
INSERT INTO sqlite_sequence (name, seq)
SELECT 'oauth_tokens_new', seq FROM sqlite_sequence WHERE name = 'oauth_tokens'
  AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'oauth_tokens_new');
UPDATE sqlite_sequence
SET seq = max(seq, (SELECT seq FROM sqlite_sequence WHERE name = 'oauth_tokens'))
WHERE name = 'oauth_tokens_new';
-- Dropping a table deletes its rows first, each with the scan above unless indexed.
CREATE INDEX oauth_tokens_parent_old ON oauth_tokens (parent_id);
DROP TABLE oauth_tokens;
ALTER TABLE oauth_tokens_new RENAME TO oauth_tokens;
CREATE INDEX oauth_tokens_user ON oauth_tokens (user_id);
CREATE INDEX oauth_tokens_client ON oauth_tokens (client_id);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
CREATE INDEX oauth_tokens_parent ON oauth_tokens (parent_id);

-- Every other foreign key without an index of its own: deleting a user or a client looked for
-- their rows here by scanning. A test holds every foreign key to an index (tests/it/storage.rs).
CREATE INDEX oauth_codes_user ON oauth_codes (user_id);
CREATE INDEX oauth_codes_client ON oauth_codes (client_id);
CREATE INDEX mcp_sessions_user ON mcp_sessions (user_id);
CREATE INDEX connector_attempts_user ON connector_attempts (user_id);
