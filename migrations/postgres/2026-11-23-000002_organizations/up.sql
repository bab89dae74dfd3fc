-- Organization settings, avatars and the audit log.

ALTER TABLE workspaces ADD COLUMN description TEXT NOT NULL DEFAULT '';
ALTER TABLE workspaces ADD COLUMN billing_email TEXT NOT NULL DEFAULT '';
ALTER TABLE workspaces ADD COLUMN billing_address TEXT NOT NULL DEFAULT '';
ALTER TABLE workspaces ADD COLUMN avatar_version INTEGER NOT NULL DEFAULT 0;

-- Kept in the database (not on local disk) so every instance can serve it.
CREATE TABLE workspace_avatars (
    workspace_id TEXT PRIMARY KEY NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    content_type TEXT NOT NULL,
    bytes BYTEA NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE audit_entries (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    actor_user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    actor_name TEXT NOT NULL,
    action TEXT NOT NULL,
    target_type TEXT NOT NULL,
    target_id TEXT NOT NULL,
    target_label TEXT NOT NULL,
    details TEXT NOT NULL DEFAULT '',
    ip TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX audit_entries_workspace_idx ON audit_entries (workspace_id, created_at);
CREATE INDEX audit_entries_action_idx ON audit_entries (workspace_id, action, created_at);
CREATE INDEX audit_entries_actor_idx ON audit_entries (workspace_id, actor_user_id, created_at);
