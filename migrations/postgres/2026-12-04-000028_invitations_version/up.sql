-- workspaces.invitations_version: moves whenever what the members page
-- shows of the workspace's invitations changes (one is sent, resent,
-- revoked, accepted, declined or marked expired, or its latest email is
-- delivered or fails), in the same transaction as the change. Every page's
-- session load reads it with the workspace row, so a process may keep the
-- invitations it listed in memory and know from that number alone whether
-- they are still current (`web::cache::InvitationCache`): the members page
-- then costs the owner no statement for them. Invitations that merely run
-- past their expiry move nothing: the page works that out from the time.
-- Invitation changes lock the workspace row first
-- (`db::workspaces::lock_memberships`), as role changes do, so the
-- trigger's update takes no lock in a new order.
ALTER TABLE workspaces ADD COLUMN invitations_version INTEGER NOT NULL DEFAULT 0;

CREATE FUNCTION invitations_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE workspaces SET invitations_version = invitations_version + 1 WHERE id = OLD.workspace_id;
    ELSE
        UPDATE workspaces SET invitations_version = invitations_version + 1 WHERE id = NEW.workspace_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER invitations_version_insert_delete AFTER INSERT OR DELETE ON invitations
    FOR EACH ROW EXECUTE FUNCTION invitations_version_bump();

-- Only the columns the page shows (not the token or the inviter's user id,
-- which a deleted account's cascade nulls).
CREATE TRIGGER invitations_version_update AFTER UPDATE OF
    email, name, role_id, role_name, status, invited_by_name, created_at, expires_at,
    send_count, resolved_at, resolved_by_name, last_email_id ON invitations
    FOR EACH ROW EXECUTE FUNCTION invitations_version_bump();

CREATE FUNCTION invitations_version_bump_on_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE workspaces SET invitations_version = invitations_version + 1
    WHERE id = (SELECT workspace_id FROM invitations WHERE id = NEW.invitation_id);
    RETURN NULL;
END $$;

CREATE TRIGGER invitations_version_delivery AFTER UPDATE OF attempts, sent_at, last_error
    ON outbox_emails FOR EACH ROW WHEN (NEW.invitation_id IS NOT NULL)
    EXECUTE FUNCTION invitations_version_bump_on_delivery();
