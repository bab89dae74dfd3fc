ALTER TABLE workspaces DROP COLUMN max_running_agents;
ALTER TABLE workspaces DROP COLUMN running_agents;
DROP TABLE agent_runs;
DROP TABLE agents;
