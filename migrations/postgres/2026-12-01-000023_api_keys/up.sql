-- A member's API keys: each acts as its holder in one workspace, with
-- everything the holder may do there (scope 'all') or only the listed
-- permissions, and never more than the holder's role grants at the time
-- of use. A key dies with its holder's membership (the foreign key, and
-- the active-membership check on every use), when it expires, and when it
-- is revoked (final: revoked_at is never cleared). Only a SHA-256 of the
-- key is kept, with a short public prefix to find it by.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL CHECK (kind IN ('standard', 'ai_agent')),
    -- Empty: everything the holder may do. Otherwise permission names
    -- separated by spaces.
    scope TEXT NOT NULL DEFAULT '',
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP,
    revoked_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    FOREIGN KEY (workspace_id, user_id) REFERENCES memberships (workspace_id, user_id)
        ON DELETE CASCADE
);
CREATE UNIQUE INDEX api_keys_prefix_key ON api_keys (prefix);
CREATE INDEX api_keys_page_idx ON api_keys (workspace_id, created_at, id);
