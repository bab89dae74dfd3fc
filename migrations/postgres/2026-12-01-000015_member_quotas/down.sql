DROP TABLE member_agent_counts;
ALTER TABLE agents DROP COLUMN started_by;
ALTER TABLE workspaces DROP COLUMN max_agents_per_member;
