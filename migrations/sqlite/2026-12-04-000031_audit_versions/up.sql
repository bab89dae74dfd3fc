-- audit_versions: one row per workspace with a log, whose version moves
-- with every entry recorded there, in the same transaction. Every page's
-- session load reads it with the workspace row, so a process may keep the
-- dashboard's latest activity in memory and know from that number alone
-- whether it is still current (`web::cache::LatestActivityCache`). Entries
-- are never changed or deleted one by one, so only inserts move it. See
-- the PostgreSQL migration for why it is a table of its own and why the
-- newest entry's id is not the version.
CREATE TABLE audit_versions (
    workspace_id TEXT PRIMARY KEY NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    version INTEGER NOT NULL
);

INSERT INTO audit_versions (workspace_id, version)
    SELECT DISTINCT workspace_id, 1 FROM audit_entries;

CREATE TRIGGER audit_entries_bump_version AFTER INSERT ON audit_entries
BEGIN
    INSERT INTO audit_versions (workspace_id, version) VALUES (new.workspace_id, 1)
        ON CONFLICT (workspace_id) DO UPDATE SET version = version + 1;
END;
