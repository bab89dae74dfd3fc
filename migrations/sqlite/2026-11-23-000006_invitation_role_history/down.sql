-- Old invitations of deleted roles can't go back to a NOT NULL role_id.
DROP INDEX invitations_inviter_idx;
DELETE FROM invitations WHERE role_id IS NULL;
ALTER TABLE invitations DROP COLUMN role_name;
