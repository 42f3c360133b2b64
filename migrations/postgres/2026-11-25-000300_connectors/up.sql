-- One sealed canary per encryption key: opening it at start proves ENCRYPTION_KEY is the key the
-- stored secrets were sealed with, instead of failing on the first secret later.
CREATE TABLE encryption_keys (
    key_id TEXT PRIMARY KEY NOT NULL,
    canary TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE UNIQUE INDEX connectors_user_label ON connectors (user_id, label);
