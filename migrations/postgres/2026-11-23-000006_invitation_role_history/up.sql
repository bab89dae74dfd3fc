-- An invitation keeps the name of the role it offered, so a custom role that
-- only old (accepted, declined, revoked, expired) invitations name can be
-- deleted: their role_id becomes NULL and the history still reads right.
-- A pending invitation always names a role.
ALTER TABLE invitations ADD COLUMN role_name TEXT NOT NULL DEFAULT '';
UPDATE invitations SET role_name = roles.name FROM roles WHERE roles.id = invitations.role_id;
ALTER TABLE invitations ALTER COLUMN role_id DROP NOT NULL;
ALTER TABLE invitations ADD CONSTRAINT invitations_pending_has_role
    CHECK (status <> 'pending' OR role_id IS NOT NULL);
-- The cascade that revokes invitations a demoted member can no longer give
-- looks them up by inviter.
CREATE INDEX invitations_inviter_idx ON invitations (workspace_id, invited_by_user_id) WHERE status = 'pending';
