-- How many hours a workspace's agents may run per calendar month, all
-- together (NULL: no limit); an organization's counts its teams' too.
ALTER TABLE workspaces ADD COLUMN max_agent_hours INTEGER;
