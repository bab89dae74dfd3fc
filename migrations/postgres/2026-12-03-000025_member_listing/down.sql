DROP TRIGGER users_copy_to_memberships ON users;
DROP FUNCTION users_copy_to_memberships();
DROP TRIGGER memberships_copy_user ON memberships;
DROP FUNCTION memberships_copy_user();
ALTER TABLE memberships
    DROP COLUMN user_name,
    DROP COLUMN user_email,
    DROP COLUMN user_last_login_at;
