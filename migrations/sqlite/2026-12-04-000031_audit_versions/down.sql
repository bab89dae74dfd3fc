DROP TRIGGER audit_entries_bump_version;
DROP TABLE audit_versions;
