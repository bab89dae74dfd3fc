CREATE OR REPLACE FUNCTION users_copy_to_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE memberships
    SET user_name = NEW.name, user_email = NEW.email, user_last_login_at = NEW.last_login_at
    WHERE user_id = NEW.id;
    RETURN NULL;
END $$;
DROP TRIGGER members_version_delete ON memberships;
DROP TRIGGER members_version_update ON memberships;
DROP TRIGGER members_version_insert ON memberships;
DROP FUNCTION members_version_bump_old();
DROP FUNCTION members_version_bump_new();
ALTER TABLE workspaces DROP COLUMN members_version;
