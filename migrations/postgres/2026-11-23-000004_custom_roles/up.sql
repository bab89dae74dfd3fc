-- Custom roles keep the permissions chosen for them apart from their
-- effective set (`permissions`), which also holds what they inherit and is
-- recomputed whenever a role of the workspace changes.
ALTER TABLE roles ADD COLUMN own_permissions TEXT NOT NULL DEFAULT '';
UPDATE roles SET own_permissions = permissions;
