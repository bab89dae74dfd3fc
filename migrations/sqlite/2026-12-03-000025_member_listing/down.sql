DROP TRIGGER users_copy_to_memberships;
DROP TRIGGER memberships_copy_user_update;
DROP TRIGGER memberships_copy_user_insert;
ALTER TABLE memberships DROP COLUMN user_last_login_at;
ALTER TABLE memberships DROP COLUMN user_email;
ALTER TABLE memberships DROP COLUMN user_name;
