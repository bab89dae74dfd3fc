-- workspaces.team_count and workspaces.project_count: an organization's
-- teams (archived ones included) and its own projects, kept in step by
-- triggers in the transaction of the change, as member_count is. The
-- organizations page reads them on each card instead of counting teams and
-- projects per view.

-- Each card's owner is found through the organization's owner role: the
-- index makes that one row, not a walk over the organization's members.
CREATE INDEX memberships_role_idx ON memberships (role_id);

ALTER TABLE workspaces ADD COLUMN team_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN project_count INTEGER NOT NULL DEFAULT 0;
UPDATE workspaces SET
    team_count = (SELECT COUNT(*) FROM workspaces t WHERE t.parent_id = workspaces.id AND t.kind = 'team'),
    project_count = (SELECT COUNT(*) FROM projects p WHERE p.workspace_id = workspaces.id);

CREATE TRIGGER workspaces_count_teams_insert AFTER INSERT ON workspaces
WHEN new.kind = 'team' AND new.parent_id IS NOT NULL
BEGIN
    UPDATE workspaces SET team_count = team_count + 1 WHERE id = new.parent_id;
END;

CREATE TRIGGER workspaces_count_teams_delete AFTER DELETE ON workspaces
WHEN old.kind = 'team' AND old.parent_id IS NOT NULL
BEGIN
    UPDATE workspaces SET team_count = team_count - 1 WHERE id = old.parent_id;
END;

CREATE TRIGGER projects_count_insert AFTER INSERT ON projects
BEGIN
    UPDATE workspaces SET project_count = project_count + 1 WHERE id = new.workspace_id;
END;

CREATE TRIGGER projects_count_delete AFTER DELETE ON projects
BEGIN
    UPDATE workspaces SET project_count = project_count - 1 WHERE id = old.workspace_id;
END;

CREATE TRIGGER projects_count_update AFTER UPDATE OF workspace_id ON projects
WHEN old.workspace_id <> new.workspace_id
BEGIN
    UPDATE workspaces SET project_count = project_count - 1 WHERE id = old.workspace_id;
    UPDATE workspaces SET project_count = project_count + 1 WHERE id = new.workspace_id;
END;
