-- workspaces.owner_user_id: who holds the workspace's owner role, kept in
-- step by triggers in the transaction of the change. The organizations
-- page reads each card's owner through it, by primary key, rather than
-- through memberships.role_id, whose plan depends on the statistics (see
-- the PostgreSQL migration).
ALTER TABLE workspaces ADD COLUMN owner_user_id TEXT;
UPDATE workspaces SET owner_user_id = (
    SELECT m.user_id FROM memberships m JOIN roles r ON r.id = m.role_id
    WHERE r.workspace_id = workspaces.id AND r.system_key = 'owner'
    LIMIT 1);

CREATE TRIGGER memberships_owner_insert AFTER INSERT ON memberships
WHEN (SELECT system_key FROM roles WHERE id = new.role_id) = 'owner'
BEGIN
    UPDATE workspaces SET owner_user_id = new.user_id WHERE id = new.workspace_id;
END;

CREATE TRIGGER memberships_owner_update AFTER UPDATE OF role_id ON memberships
WHEN (SELECT system_key FROM roles WHERE id = new.role_id) = 'owner'
BEGIN
    UPDATE workspaces SET owner_user_id = new.user_id WHERE id = new.workspace_id;
END;

CREATE TRIGGER memberships_owner_delete AFTER DELETE ON memberships
BEGIN
    UPDATE workspaces SET owner_user_id = NULL
    WHERE id = old.workspace_id AND owner_user_id = old.user_id;
END;
