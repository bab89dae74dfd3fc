ALTER TABLE workspaces DROP COLUMN max_app_instances;
ALTER TABLE workspaces DROP COLUMN app_instances;
DROP TABLE app_instances;
