-- Instances of catalogue apps (the catalogue is configuration; an
-- instance keeps its app's key). How many a workspace has is a counter
-- raised only below its limit (NULL: none) in the transaction that
-- installs one; an organization's counts its teams'.
CREATE TABLE app_instances (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    app_key TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'stopped')),
    started_at TIMESTAMP,
    last_active_at TIMESTAMP,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, id)
);
CREATE INDEX app_instances_workspace_idx ON app_instances (workspace_id);
CREATE INDEX app_instances_idle_idx ON app_instances (status, last_active_at);
ALTER TABLE workspaces ADD COLUMN app_instances INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN max_app_instances INTEGER;
