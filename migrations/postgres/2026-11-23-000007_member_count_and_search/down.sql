DROP INDEX IF EXISTS users_email_trgm;
DROP INDEX IF EXISTS users_name_trgm;
DROP TRIGGER memberships_count_update ON memberships;
DROP TRIGGER memberships_count_delete ON memberships;
DROP TRIGGER memberships_count_insert ON memberships;
DROP FUNCTION memberships_count_updated();
DROP FUNCTION memberships_count_deleted();
DROP FUNCTION memberships_count_inserted();
ALTER TABLE workspaces DROP COLUMN member_count;
