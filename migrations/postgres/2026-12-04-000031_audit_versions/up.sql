-- audit_versions: one row per workspace with a log, whose version moves
-- with every entry recorded there, in the same transaction. Every page's
-- session load reads it with the workspace row, so a process may keep the
-- dashboard's latest activity in memory and know from that number alone
-- whether it is still current (`web::cache::LatestActivityCache`): the
-- dashboard then costs no statement beyond the session's. Entries are
-- never changed or deleted one by one, so only inserts move it.
--
-- Why a table of its own and not a column of workspaces, as the other
-- versions are: nearly every change records an entry, most of them at
-- the end of their transaction, after rows of their own. Moving a column
-- of the workspace row there would lock that row late, behind those rows,
-- while member, role and limit changes lock it first and then write rows
-- of their own: two orders, and deadlocks. This row is locked by audited
-- changes only, so it orders them among themselves: those of one
-- workspace wait for each other from their entry to their commit. A
-- change that records in two workspaces records in id order
-- (`db::audit::record_in_each`).
--
-- Why the newest entry's id is not the version (it needs no table): ids
-- are taken before their transaction commits, so an entry with an older
-- id can commit after a newer one was read, and a page kept at that newer
-- id would miss it for good.
--
-- The trigger fires after the foreign-key check on workspace_id (internal
-- triggers sort first) and before the facets' trigger (by name), so an
-- entry waits for its workspace's other entries before it touches a facet.
CREATE TABLE audit_versions (
    workspace_id TEXT PRIMARY KEY NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    version INTEGER NOT NULL
);

INSERT INTO audit_versions (workspace_id, version)
    SELECT DISTINCT workspace_id, 1 FROM audit_entries;

CREATE FUNCTION audit_versions_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_versions (workspace_id, version) VALUES (NEW.workspace_id, 1)
        ON CONFLICT (workspace_id) DO UPDATE SET version = audit_versions.version + 1;
    RETURN NULL;
END $$;

CREATE TRIGGER audit_entries_bump_version AFTER INSERT ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_versions_bump();
