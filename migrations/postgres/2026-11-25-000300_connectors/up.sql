-- One sealed canary per encryption key: opening it at start proves ENCRYPTION_KEY is the key the
-- stored secrets were sealed with, instead of failing on the first secret later.
CREATE TABLE encryption_keys (
    key_id TEXT PRIMARY KEY NOT NULL,
    canary TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX connectors_user_label ON connectors (user_id, label);

-- Outbound OAuth attempts (PKCE against an AI provider): in the database so that any instance
-- can finish an attempt another began. The verifier is sealed; the state is stored hashed.
CREATE TABLE connector_attempts (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider TEXT NOT NULL,
    label TEXT NOT NULL,
    state_hash TEXT NOT NULL UNIQUE,
    -- Hash of a random value kept in the user's session cookie: the attempt is bound to it.
    session_hash TEXT NOT NULL,
    verifier_sealed TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX connector_attempts_expires ON connector_attempts (expires_at);
-- A refresh in flight holds a lease, so two instances never refresh one connector together.
ALTER TABLE connectors ADD COLUMN refresh_lease_until TIMESTAMP;
