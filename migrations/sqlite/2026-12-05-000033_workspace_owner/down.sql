DROP TRIGGER memberships_owner_delete;
DROP TRIGGER memberships_owner_update;
DROP TRIGGER memberships_owner_insert;
ALTER TABLE workspaces DROP COLUMN owner_user_id;
