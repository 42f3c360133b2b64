-- The whole design's tables. Later work adds columns, not new shapes.
-- Timestamps are UTC, written by the application; ids are 64-bit.

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    -- Always stored lower-cased and trimmed; the unique index makes it case-insensitive.
    email TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    display_name TEXT,
    is_admin BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX users_email_unique ON users (lower(email));

CREATE TABLE books (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title TEXT NOT NULL,
    authors TEXT NOT NULL DEFAULT '',
    isbn10 TEXT,
    isbn13 TEXT,
    pages INTEGER,
    published_year INTEGER,
    publisher TEXT,
    language TEXT,
    tags TEXT NOT NULL DEFAULT '',
    description TEXT,
    cover_url TEXT,
    shelf TEXT NOT NULL DEFAULT 'to-read' CHECK (shelf IN ('to-read', 'reading', 'read', 'abandoned')),
    -- Lower-cased, accent-folded title + authors + description + tags, for `q` search.
    search_text TEXT NOT NULL DEFAULT '',
    -- Normalised title + first author, for duplicate detection.
    dedup_key TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX books_user_id ON books (user_id, id);
CREATE INDEX books_user_shelf ON books (user_id, shelf);
CREATE INDEX books_user_isbn13 ON books (user_id, isbn13);
CREATE INDEX books_user_dedup ON books (user_id, dedup_key);

CREATE TABLE book_tags (
    book_id BIGINT NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (book_id, tag)
);
CREATE INDEX book_tags_user_tag ON book_tags (user_id, tag);

CREATE TABLE readings (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    book_id BIGINT NOT NULL REFERENCES books (id) ON DELETE CASCADE,
    status TEXT NOT NULL DEFAULT 'reading' CHECK (status IN ('reading', 'finished', 'abandoned')),
    started_on DATE,
    finished_on DATE,
    pages_read INTEGER,
    progress DOUBLE PRECISION,
    rating DOUBLE PRECISION,
    review TEXT,
    notes TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX readings_user_id ON readings (user_id, id);
CREATE INDEX readings_book_id ON readings (book_id);
CREATE INDEX readings_user_status_finished ON readings (user_id, status, finished_on);

CREATE TABLE oauth_clients (
    id BIGSERIAL PRIMARY KEY,
    client_id TEXT NOT NULL UNIQUE,
    -- Hash of the secret; NULL for public clients.
    client_secret_hash TEXT,
    client_name TEXT NOT NULL,
    -- JSON arrays.
    redirect_uris TEXT NOT NULL,
    grant_types TEXT NOT NULL,
    response_types TEXT NOT NULL,
    token_endpoint_auth_method TEXT NOT NULL,
    scope TEXT NOT NULL,
    client_uri TEXT,
    logo_uri TEXT,
    -- 'static' (from configuration), 'dynamic' (RFC 7591) or 'metadata' (client ID metadata document).
    origin TEXT NOT NULL DEFAULT 'dynamic',
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP
);
CREATE INDEX oauth_clients_origin_created ON oauth_clients (origin, created_at);

CREATE TABLE oauth_consents (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id BIGINT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, client_id)
);

CREATE TABLE oauth_codes (
    id BIGSERIAL PRIMARY KEY,
    code_hash TEXT NOT NULL UNIQUE,
    client_id BIGINT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    redirect_uri TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    code_challenge_method TEXT NOT NULL,
    scope TEXT NOT NULL,
    resource TEXT,
    grant_id TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX oauth_codes_expires ON oauth_codes (expires_at);

CREATE TABLE oauth_tokens (
    id BIGSERIAL PRIMARY KEY,
    -- 'access' or 'refresh'.
    kind TEXT NOT NULL CHECK (kind IN ('access', 'refresh')),
    -- SHA-256 of the opaque refresh token, or of the access token's jti.
    token_hash TEXT NOT NULL UNIQUE,
    jti TEXT UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id BIGINT REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope TEXT NOT NULL,
    audience TEXT,
    grant_id TEXT NOT NULL,
    -- The refresh token this one was issued from (rotation chain).
    parent_id BIGINT REFERENCES oauth_tokens (id) ON DELETE SET NULL,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    rotated_at TIMESTAMP,
    revoked_at TIMESTAMP
);
CREATE INDEX oauth_tokens_user ON oauth_tokens (user_id);
CREATE INDEX oauth_tokens_client ON oauth_tokens (client_id);
CREATE INDEX oauth_tokens_grant ON oauth_tokens (grant_id);
CREATE INDEX oauth_tokens_expires ON oauth_tokens (expires_at);

CREATE TABLE connectors (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- 'api_key' or 'oauth'.
    kind TEXT NOT NULL CHECK (kind IN ('api_key', 'oauth')),
    provider TEXT NOT NULL,
    label TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active',
    status_reason TEXT,
    -- Sealed (AES-256-GCM) secrets: never stored or returned in clear.
    api_key_sealed TEXT,
    access_token_sealed TEXT,
    refresh_token_sealed TEXT,
    -- Last four characters of the secret, for display.
    secret_hint TEXT,
    expires_at TIMESTAMP,
    last_refreshed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX connectors_user ON connectors (user_id);
CREATE INDEX connectors_expires ON connectors (expires_at);
