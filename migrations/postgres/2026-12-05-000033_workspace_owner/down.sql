DROP TRIGGER memberships_owner_delete ON memberships;
DROP FUNCTION memberships_owner_gone();
DROP TRIGGER memberships_owner_update ON memberships;
DROP TRIGGER memberships_owner_insert ON memberships;
DROP FUNCTION memberships_owner_named();
ALTER TABLE workspaces DROP COLUMN owner_user_id;
