-- Projects: a workspace's units of work. A project's API keys resolve it,
-- and so its workspace. Keys reference their project by (workspace_id,
-- project_id), so moving a project to another workspace (one UPDATE of
-- projects.workspace_id) carries its keys along (ON UPDATE CASCADE).
CREATE TABLE projects (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, id)
);
CREATE UNIQUE INDEX projects_workspace_name_key ON projects (workspace_id, lower(name));

-- Only a SHA-256 of each key is kept, with a short public prefix to find
-- it by; the key itself is shown once, when it is created.
CREATE TABLE project_keys (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    prefix TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP,
    revoked_at TIMESTAMP,
    FOREIGN KEY (workspace_id, project_id) REFERENCES projects (workspace_id, id)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX project_keys_prefix_key ON project_keys (prefix);
CREATE INDEX project_keys_project_idx ON project_keys (workspace_id, project_id);
