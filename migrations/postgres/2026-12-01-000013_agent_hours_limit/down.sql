ALTER TABLE workspaces DROP COLUMN max_agent_hours;
