-- workspaces.members_version: moves whenever what the members page shows
-- of the workspace's memberships changes (one is added, removed, given
-- another role, deactivated or reactivated, or its user's name, email or
-- last sign-in changes: `users_copy_to_memberships` writes those to the
-- memberships), in the same transaction as the change. Every page's
-- session load reads it with the workspace row, so a process may keep the
-- first page of members in memory and know from that number alone whether
-- it is still current (`web::cache::MemberPageCache`): that view then
-- costs no statement beyond the session's.
ALTER TABLE workspaces ADD COLUMN members_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER members_version_insert AFTER INSERT ON memberships
BEGIN
    UPDATE workspaces SET members_version = members_version + 1 WHERE id = new.workspace_id;
END;

CREATE TRIGGER members_version_delete AFTER DELETE ON memberships
BEGIN
    UPDATE workspaces SET members_version = members_version + 1 WHERE id = old.workspace_id;
END;

-- Only the columns the page shows (not updated_at).
CREATE TRIGGER members_version_update AFTER UPDATE OF
    workspace_id, user_id, role_id, status, joined_at, user_name, user_email, user_last_login_at
    ON memberships
BEGIN
    UPDATE workspaces SET members_version = members_version + 1
    WHERE id IN (old.workspace_id, new.workspace_id);
END;
