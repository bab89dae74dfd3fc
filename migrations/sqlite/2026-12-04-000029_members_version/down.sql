DROP TRIGGER members_version_update;
DROP TRIGGER members_version_delete;
DROP TRIGGER members_version_insert;
ALTER TABLE workspaces DROP COLUMN members_version;
