DROP TRIGGER roles_version_update;
DROP TRIGGER roles_version_delete;
DROP TRIGGER roles_version_insert;
ALTER TABLE workspaces DROP COLUMN roles_version;
