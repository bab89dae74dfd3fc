-- The members page reads one table.
--
-- Each membership carries a copy of its user's name, email and last
-- sign-in, so a page of 50 members is one index range scan on memberships
-- (workspace_id, id) instead of that plus 51 primary-key lookups in users
-- (204 of the page query's 209 buffer hits). Triggers keep the copies in
-- step in the transaction of every change, whoever makes it: a membership
-- takes its user's values when it is inserted (or moved to another user),
-- and a change to a user's name, email or last sign-in is written to all
-- of their memberships (a user belongs to a handful of workspaces).
-- Member search still filters on users, where its trigram indexes are.

ALTER TABLE memberships
    ADD COLUMN user_name TEXT NOT NULL DEFAULT '',
    ADD COLUMN user_email TEXT NOT NULL DEFAULT '',
    ADD COLUMN user_last_login_at TIMESTAMP;

UPDATE memberships m
SET user_name = u.name, user_email = u.email, user_last_login_at = u.last_login_at
FROM users u
WHERE u.id = m.user_id;

CREATE FUNCTION memberships_copy_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT u.name, u.email, u.last_login_at
    INTO NEW.user_name, NEW.user_email, NEW.user_last_login_at
    FROM users u WHERE u.id = NEW.user_id;
    RETURN NEW;
END $$;

CREATE TRIGGER memberships_copy_user BEFORE INSERT OR UPDATE OF user_id ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_copy_user();

CREATE FUNCTION users_copy_to_memberships() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE memberships
    SET user_name = NEW.name, user_email = NEW.email, user_last_login_at = NEW.last_login_at
    WHERE user_id = NEW.id;
    RETURN NULL;
END $$;

CREATE TRIGGER users_copy_to_memberships AFTER UPDATE OF name, email, last_login_at ON users
    FOR EACH ROW
    WHEN (OLD.name IS DISTINCT FROM NEW.name
          OR OLD.email IS DISTINCT FROM NEW.email
          OR OLD.last_login_at IS DISTINCT FROM NEW.last_login_at)
    EXECUTE FUNCTION users_copy_to_memberships();
