-- Costs that must not grow with an organization's size.
--
-- 1. workspaces.member_count: the active members, kept in step by
--    statement-level triggers on memberships (one UPDATE per statement and
--    workspace, also for bulk loads), in the transaction of the change. The
--    dashboard and the organization cards read it instead of counting.
-- 2. Trigram GIN indexes on lower(users.name) and users.email, which serve
--    member search's existing `LIKE '%…%'` filters as they are. They need
--    the pg_trgm extension (trusted since PostgreSQL 13: a database owner
--    may create it). Where it can't be created, the migration does not
--    fail: it raises a WARNING, skips the indexes and search stays a scan;
--    Tenantry also logs a warning at start-up (`db::search_index_missing`).
--    Run `CREATE EXTENSION pg_trgm` as a superuser and re-create the
--    indexes below to get them.

ALTER TABLE workspaces ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE workspaces SET member_count = (
    SELECT COUNT(*) FROM memberships m WHERE m.workspace_id = workspaces.id AND m.status = 'active'
);

CREATE FUNCTION memberships_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE workspaces w SET member_count = w.member_count + d.n
    FROM (SELECT workspace_id, COUNT(*) AS n FROM new_rows WHERE status = 'active'
          GROUP BY workspace_id) d
    WHERE w.id = d.workspace_id;
    RETURN NULL;
END $$;

CREATE FUNCTION memberships_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE workspaces w SET member_count = w.member_count - d.n
    FROM (SELECT workspace_id, COUNT(*) AS n FROM old_rows WHERE status = 'active'
          GROUP BY workspace_id) d
    WHERE w.id = d.workspace_id;
    RETURN NULL;
END $$;

CREATE FUNCTION memberships_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE workspaces w SET member_count = w.member_count + d.delta
    FROM (SELECT workspace_id, SUM(delta) AS delta FROM (
              SELECT workspace_id, 1 AS delta FROM new_rows WHERE status = 'active'
              UNION ALL
              SELECT workspace_id, -1 AS delta FROM old_rows WHERE status = 'active'
          ) changes
          GROUP BY workspace_id HAVING SUM(delta) <> 0) d
    WHERE w.id = d.workspace_id;
    RETURN NULL;
END $$;

CREATE TRIGGER memberships_count_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_count_inserted();
CREATE TRIGGER memberships_count_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_count_deleted();
CREATE TRIGGER memberships_count_update AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_count_updated();

DO $$
DECLARE
    trgm_schema TEXT;
BEGIN
    SELECT n.nspname INTO trgm_schema
    FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
    WHERE e.extname = 'pg_trgm';
    IF trgm_schema IS NULL THEN
        BEGIN
            -- In `public`, not the current schema: one installation serves
            -- every schema of the database.
            CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
        EXCEPTION
            WHEN unique_violation OR duplicate_object THEN
                NULL; -- another session created it at the same moment
            WHEN OTHERS THEN
                RAISE WARNING 'pg_trgm is unavailable (%): member search will scan instead of using an index. Run CREATE EXTENSION pg_trgm as a superuser, then re-run the index statements of migration 000007.', SQLERRM;
        END;
        SELECT n.nspname INTO trgm_schema
        FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
        WHERE e.extname = 'pg_trgm';
    END IF;
    IF trgm_schema IS NOT NULL THEN
        EXECUTE format('CREATE INDEX users_name_trgm ON users USING gin (lower(name) %I.gin_trgm_ops)', trgm_schema);
        EXECUTE format('CREATE INDEX users_email_trgm ON users USING gin (email %I.gin_trgm_ops)', trgm_schema);
    END IF;
END $$;
