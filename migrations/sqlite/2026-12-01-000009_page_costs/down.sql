DROP TRIGGER memberships_role_count_update;
DROP TRIGGER memberships_role_count_delete;
DROP TRIGGER memberships_role_count_insert;
ALTER TABLE roles DROP COLUMN member_count;
DROP TRIGGER audit_entries_facets;
DROP TABLE audit_facets;
ALTER TABLE invitations DROP COLUMN last_email_id;
ALTER TABLE sessions DROP COLUMN active_workspace_id;
