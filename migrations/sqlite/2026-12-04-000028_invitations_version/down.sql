DROP TRIGGER invitations_version_delivery;
DROP TRIGGER invitations_version_update;
DROP TRIGGER invitations_version_delete;
DROP TRIGGER invitations_version_insert;
ALTER TABLE workspaces DROP COLUMN invitations_version;
