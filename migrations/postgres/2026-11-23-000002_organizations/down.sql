DROP TABLE audit_entries;
DROP TABLE workspace_avatars;
ALTER TABLE workspaces DROP COLUMN avatar_version;
ALTER TABLE workspaces DROP COLUMN billing_address;
ALTER TABLE workspaces DROP COLUMN billing_email;
ALTER TABLE workspaces DROP COLUMN description;
