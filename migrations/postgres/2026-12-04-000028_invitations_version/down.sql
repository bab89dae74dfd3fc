DROP TRIGGER invitations_version_delivery ON outbox_emails;
DROP FUNCTION invitations_version_bump_on_delivery();
DROP TRIGGER invitations_version_update ON invitations;
DROP TRIGGER invitations_version_insert_delete ON invitations;
DROP FUNCTION invitations_version_bump();
ALTER TABLE workspaces DROP COLUMN invitations_version;
