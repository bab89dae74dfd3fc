-- Agents: run against a project of their own workspace. The foreign key is
-- the workspace and the project together, so an agent can't use another
-- workspace's project; moving a project carries its agents (ON UPDATE
-- CASCADE), and a project with agents can't be deleted.
CREATE TABLE agents (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'stopped' CHECK (status IN ('running', 'stopped')),
    started_at TIMESTAMP,
    last_active_at TIMESTAMP,
    created_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, project_id) REFERENCES projects (workspace_id, id) ON UPDATE CASCADE
);
CREATE UNIQUE INDEX agents_workspace_name_key ON agents (workspace_id, lower(name));
CREATE INDEX agents_project_idx ON agents (workspace_id, project_id);

-- Each start opens a run and each stop closes it: runtime is the sum of
-- the runs' overlap with the period asked about, exact across restarts
-- and month boundaries. An agent has at most one open run.
CREATE TABLE agent_runs (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    stopped_at TIMESTAMP,
    FOREIGN KEY (workspace_id, agent_id) REFERENCES agents (workspace_id, id)
        ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX agent_runs_workspace_idx ON agent_runs (workspace_id, stopped_at);
CREATE UNIQUE INDEX agent_runs_open_key ON agent_runs (agent_id) WHERE stopped_at IS NULL;

-- How many of a workspace's agents run, and how many may (NULL: no
-- limit). Starting an agent raises the counter only while it is below the
-- limit, in the transaction that starts it: concurrent starts can't pass
-- the limit together. An organization's counter counts its teams' agents
-- too.
ALTER TABLE workspaces ADD COLUMN running_agents INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN max_running_agents INTEGER;
