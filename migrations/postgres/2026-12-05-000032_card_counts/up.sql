-- workspaces.team_count and workspaces.project_count: an organization's
-- teams (archived ones included) and its own projects, kept in step by
-- statement-level triggers in the transaction of the change, as
-- member_count is. The organizations page reads them on each card instead
-- of counting teams and projects per view.

-- Each card's owner is found through the organization's owner role: the
-- index makes that one row, not a walk over the organization's members.
CREATE INDEX memberships_role_idx ON memberships (role_id);

ALTER TABLE workspaces ADD COLUMN team_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE workspaces ADD COLUMN project_count INTEGER NOT NULL DEFAULT 0;
UPDATE workspaces SET
    team_count = (SELECT COUNT(*) FROM workspaces t WHERE t.parent_id = workspaces.id AND t.kind = 'team'),
    project_count = (SELECT COUNT(*) FROM projects p WHERE p.workspace_id = workspaces.id);

CREATE FUNCTION workspaces_count_teams() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE workspaces w SET team_count = w.team_count + d.n
        FROM (SELECT parent_id, COUNT(*) AS n FROM new_rows
              WHERE kind = 'team' AND parent_id IS NOT NULL GROUP BY parent_id) d
        WHERE w.id = d.parent_id;
    ELSE
        UPDATE workspaces w SET team_count = w.team_count - d.n
        FROM (SELECT parent_id, COUNT(*) AS n FROM old_rows
              WHERE kind = 'team' AND parent_id IS NOT NULL GROUP BY parent_id) d
        WHERE w.id = d.parent_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER workspaces_count_teams_insert AFTER INSERT ON workspaces
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workspaces_count_teams();
CREATE TRIGGER workspaces_count_teams_delete AFTER DELETE ON workspaces
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION workspaces_count_teams();

CREATE FUNCTION projects_count_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE workspaces w SET project_count = w.project_count + d.n
        FROM (SELECT workspace_id, COUNT(*) AS n FROM new_rows GROUP BY workspace_id) d
        WHERE w.id = d.workspace_id;
    ELSE
        UPDATE workspaces w SET project_count = w.project_count - d.n
        FROM (SELECT workspace_id, COUNT(*) AS n FROM old_rows GROUP BY workspace_id) d
        WHERE w.id = d.workspace_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER projects_count_insert AFTER INSERT ON projects
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION projects_count_changed();
CREATE TRIGGER projects_count_delete AFTER DELETE ON projects
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION projects_count_changed();

-- A move touches two workspaces' rows: they are taken in the order of
-- their ids (bytewise, as the app sorts them), as every change that concerns two workspaces does, so two moves
-- in opposite directions can't each hold what the other waits for. The
-- lock is the one the UPDATE takes anyway (NO KEY UPDATE), which leaves the
-- key-share lock each move's foreign key check holds on its destination
-- free: FOR UPDATE would wait for the other move's check, and it for this
-- one's. (A row trigger: transition tables can't go with a column list.)
CREATE FUNCTION projects_count_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE workspaces SET project_count = project_count
        + CASE WHEN id = NEW.workspace_id THEN 1 ELSE -1 END
    WHERE id IN (
        SELECT id FROM workspaces WHERE id IN (OLD.workspace_id, NEW.workspace_id)
        ORDER BY id COLLATE "C" FOR NO KEY UPDATE
    );
    RETURN NULL;
END $$;

CREATE TRIGGER projects_count_update AFTER UPDATE OF workspace_id ON projects
    FOR EACH ROW WHEN (OLD.workspace_id IS DISTINCT FROM NEW.workspace_id)
    EXECUTE FUNCTION projects_count_moved();
