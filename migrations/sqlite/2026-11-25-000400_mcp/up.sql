-- MCP sessions live in the database so that any instance can serve any request of a session.
CREATE TABLE mcp_sessions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    -- SHA-256 of the Mcp-Session-Id the client holds.
    session_hash TEXT NOT NULL UNIQUE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    protocol_version TEXT NOT NULL,
    client_name TEXT,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
CREATE INDEX mcp_sessions_last_seen ON mcp_sessions (last_seen_at);
