-- workspaces.roles_version: moves whenever one of the workspace's roles is
-- created, deleted, renamed, re-ranked or given other permissions, in the
-- same transaction as the change. Every page's session load reads it with
-- the workspace row, so a process may keep a workspace's roles in memory
-- and know from that number alone whether they are still current
-- (`web::scope::RoleCache`): the members page's role menus then cost no
-- statement of their own. A role's member count (kept by other triggers)
-- is not what menus show, so it does not move the version. Role changes
-- lock the workspace row first (`db::workspaces::lock_memberships`), so
-- the trigger's update takes no lock in a new order.
ALTER TABLE workspaces ADD COLUMN roles_version INTEGER NOT NULL DEFAULT 0;

CREATE FUNCTION roles_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE workspaces SET roles_version = roles_version + 1 WHERE id = OLD.workspace_id;
    ELSE
        UPDATE workspaces SET roles_version = roles_version + 1 WHERE id = NEW.workspace_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER roles_version_insert_delete AFTER INSERT OR DELETE ON roles
    FOR EACH ROW EXECUTE FUNCTION roles_version_bump();

CREATE TRIGGER roles_version_update AFTER UPDATE OF name, system_key, level, permissions ON roles
    FOR EACH ROW EXECUTE FUNCTION roles_version_bump();
