-- A quota per member within an organization: how many agents each member
-- may have running at once across the organization and its teams (NULL:
-- none). Each member's count is a row raised only below the quota in the
-- transaction that starts an agent; agents remember who started them.
ALTER TABLE workspaces ADD COLUMN max_agents_per_member INTEGER;
ALTER TABLE agents ADD COLUMN started_by TEXT REFERENCES users (id) ON DELETE SET NULL;
CREATE TABLE member_agent_counts (
    organization_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    running_agents INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (organization_id, user_id)
);
