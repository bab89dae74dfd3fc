-- The members page reads one table.
--
-- Each membership carries a copy of its user's name, email and last
-- sign-in, so a page of 50 members is one range of memberships
-- (workspace_id, id) instead of that plus 51 lookups in users, each a
-- search of the primary-key index and then of the table. Triggers keep
-- the copies in step in the transaction of every change, whoever makes
-- it: a membership takes its user's values when it is inserted (or moved
-- to another user), and a change to a user's name, email or last sign-in
-- is written to all of their memberships (a user belongs to a handful of
-- workspaces). Member search still filters on users, where its index is.

ALTER TABLE memberships ADD COLUMN user_name TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN user_email TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN user_last_login_at TIMESTAMP;

UPDATE memberships SET (user_name, user_email, user_last_login_at) = (
    SELECT u.name, u.email, u.last_login_at FROM users u WHERE u.id = memberships.user_id
);

CREATE TRIGGER memberships_copy_user_insert AFTER INSERT ON memberships
BEGIN
    UPDATE memberships SET (user_name, user_email, user_last_login_at) = (
        SELECT u.name, u.email, u.last_login_at FROM users u WHERE u.id = new.user_id
    ) WHERE id = new.id;
END;

CREATE TRIGGER memberships_copy_user_update AFTER UPDATE OF user_id ON memberships
WHEN old.user_id <> new.user_id
BEGIN
    UPDATE memberships SET (user_name, user_email, user_last_login_at) = (
        SELECT u.name, u.email, u.last_login_at FROM users u WHERE u.id = new.user_id
    ) WHERE id = new.id;
END;

CREATE TRIGGER users_copy_to_memberships AFTER UPDATE OF name, email, last_login_at ON users
WHEN old.name IS NOT new.name OR old.email IS NOT new.email
     OR old.last_login_at IS NOT new.last_login_at
BEGIN
    UPDATE memberships
    SET user_name = new.name, user_email = new.email, user_last_login_at = new.last_login_at
    WHERE user_id = new.id;
END;
