-- workspaces.invitations_version: moves whenever what the members page
-- shows of the workspace's invitations changes (one is sent, resent,
-- revoked, accepted, declined or marked expired, or its latest email is
-- delivered or fails), in the same transaction as the change. Every page's
-- session load reads it with the workspace row, so a process may keep the
-- invitations it listed in memory and know from that number alone whether
-- they are still current (`web::cache::InvitationCache`): the members page
-- then costs the owner no statement for them. Invitations that merely run
-- past their expiry move nothing: the page works that out from the time.
ALTER TABLE workspaces ADD COLUMN invitations_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER invitations_version_insert AFTER INSERT ON invitations
BEGIN
    UPDATE workspaces SET invitations_version = invitations_version + 1 WHERE id = new.workspace_id;
END;

CREATE TRIGGER invitations_version_delete AFTER DELETE ON invitations
BEGIN
    UPDATE workspaces SET invitations_version = invitations_version + 1 WHERE id = old.workspace_id;
END;

-- Only the columns the page shows (not the token or the inviter's user id,
-- which a deleted account's cascade nulls).
CREATE TRIGGER invitations_version_update AFTER UPDATE OF
    email, name, role_id, role_name, status, invited_by_name, created_at, expires_at,
    send_count, resolved_at, resolved_by_name, last_email_id ON invitations
BEGIN
    UPDATE workspaces SET invitations_version = invitations_version + 1 WHERE id = new.workspace_id;
END;

CREATE TRIGGER invitations_version_delivery AFTER UPDATE OF attempts, sent_at, last_error
    ON outbox_emails WHEN new.invitation_id IS NOT NULL
BEGIN
    UPDATE workspaces SET invitations_version = invitations_version + 1
    WHERE id = (SELECT workspace_id FROM invitations WHERE id = new.invitation_id);
END;
