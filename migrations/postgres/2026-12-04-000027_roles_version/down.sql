DROP TRIGGER roles_version_update ON roles;
DROP TRIGGER roles_version_insert_delete ON roles;
DROP FUNCTION roles_version_bump();
ALTER TABLE workspaces DROP COLUMN roles_version;
