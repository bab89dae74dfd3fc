-- workspaces.members_version: moves whenever what the members page shows
-- of the workspace's memberships changes (one is added, removed, given
-- another role, deactivated or reactivated, or its user's name, email or
-- last sign-in changes), in the same transaction as the change. Every
-- page's session load reads it with the workspace row, so a process may
-- keep the first page of members in memory and know from that number alone
-- whether it is still current (`web::cache::MemberPageCache`): that view
-- then costs no statement beyond the session's.
--
-- One UPDATE per statement and workspace (statement-level triggers, as
-- for member_count), so a bulk change moves the version once.
--
-- Lock order. Member changes lock the workspace row first
-- (`db::workspaces::lock_memberships`) and then the membership. A change
-- to a user (a sign-in writes last_login_at) is copied to their
-- memberships by `users_copy_to_memberships`, whose update then moves the
-- version: that would lock a membership before its workspace. So that
-- function now locks the user's workspaces first, in id order (one order
-- for two sign-ins that share workspaces too), and then their memberships.
ALTER TABLE workspaces ADD COLUMN members_version INTEGER NOT NULL DEFAULT 0;

CREATE FUNCTION members_version_bump_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE workspaces SET members_version = members_version + 1
    WHERE id IN (SELECT workspace_id FROM new_rows);
    RETURN NULL;
END $$;

CREATE FUNCTION members_version_bump_old() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE workspaces SET members_version = members_version + 1
    WHERE id IN (SELECT workspace_id FROM old_rows);
    RETURN NULL;
END $$;

-- Transition tables allow neither several events nor a column list in one
-- trigger: any update of memberships moves the version.
CREATE TRIGGER members_version_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION members_version_bump_new();
CREATE TRIGGER members_version_update AFTER UPDATE ON memberships
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION members_version_bump_new();
CREATE TRIGGER members_version_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION members_version_bump_old();

CREATE OR REPLACE FUNCTION users_copy_to_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM workspaces
    WHERE id IN (SELECT workspace_id FROM memberships WHERE user_id = NEW.id)
    ORDER BY id
    FOR NO KEY UPDATE;
    UPDATE memberships
    SET user_name = NEW.name, user_email = NEW.email, user_last_login_at = NEW.last_login_at
    WHERE user_id = NEW.id;
    RETURN NULL;
END $$;
