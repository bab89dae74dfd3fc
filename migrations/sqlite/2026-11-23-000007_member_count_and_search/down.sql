DROP TRIGGER users_search_delete;
DROP TRIGGER users_search_update;
DROP TRIGGER users_search_insert;
DROP TABLE users_search;
DROP TABLE user_search_keys;
DROP TRIGGER memberships_count_update;
DROP TRIGGER memberships_count_delete;
DROP TRIGGER memberships_count_insert;
ALTER TABLE workspaces DROP COLUMN member_count;
