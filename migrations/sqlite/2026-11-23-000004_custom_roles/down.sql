ALTER TABLE roles DROP COLUMN own_permissions;
