-- workspaces.roles_version: moves whenever one of the workspace's roles is
-- created, deleted, renamed, re-ranked or given other permissions, in the
-- same transaction as the change. Every page's session load reads it with
-- the workspace row, so a process may keep a workspace's roles in memory
-- and know from that number alone whether they are still current
-- (`web::scope::RoleCache`): the members page's role menus then cost no
-- statement of their own. A role's member count (kept by other triggers)
-- is not what menus show, so it does not move the version.
ALTER TABLE workspaces ADD COLUMN roles_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER roles_version_insert AFTER INSERT ON roles
BEGIN
    UPDATE workspaces SET roles_version = roles_version + 1 WHERE id = new.workspace_id;
END;

CREATE TRIGGER roles_version_delete AFTER DELETE ON roles
BEGIN
    UPDATE workspaces SET roles_version = roles_version + 1 WHERE id = old.workspace_id;
END;

CREATE TRIGGER roles_version_update AFTER UPDATE OF name, system_key, level, permissions ON roles
BEGIN
    UPDATE workspaces SET roles_version = roles_version + 1 WHERE id = new.workspace_id;
END;
