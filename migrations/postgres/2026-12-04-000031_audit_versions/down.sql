DROP TRIGGER audit_entries_bump_version ON audit_entries;
DROP FUNCTION audit_versions_bump();
DROP TABLE audit_versions;
