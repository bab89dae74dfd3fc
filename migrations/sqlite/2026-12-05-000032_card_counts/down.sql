DROP TRIGGER projects_count_update;
DROP TRIGGER projects_count_delete;
DROP TRIGGER projects_count_insert;
DROP TRIGGER workspaces_count_teams_delete;
DROP TRIGGER workspaces_count_teams_insert;
ALTER TABLE workspaces DROP COLUMN project_count;
ALTER TABLE workspaces DROP COLUMN team_count;
DROP INDEX memberships_role_idx;
