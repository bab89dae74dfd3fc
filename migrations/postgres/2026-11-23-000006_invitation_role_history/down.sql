DROP INDEX invitations_inviter_idx;
DELETE FROM invitations WHERE role_id IS NULL;
ALTER TABLE invitations DROP CONSTRAINT invitations_pending_has_role;
ALTER TABLE invitations ALTER COLUMN role_id SET NOT NULL;
ALTER TABLE invitations DROP COLUMN role_name;
