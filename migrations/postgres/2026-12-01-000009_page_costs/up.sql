-- What a page view reads, in as few statements as the page has parts.
--
-- 1. sessions.active_workspace_id: the active workspace, copied out of the
--    session state whenever the state is written, so the query that loads
--    a session can also bring that workspace's roles (the role menus of
--    the members page) without a statement of its own.
-- 2. invitations.last_email_id: the email most recently queued for an
--    invitation, so the members page reads invitations with their delivery
--    status in one join instead of a second query over the outbox.
-- 3. audit_facets: who has acted and which actions occur in a workspace's
--    audit log, kept in step by a trigger on audit_entries, so the log's
--    filter menus don't scan the whole log on every view. A facet keeps the
--    label it was first recorded with (DO NOTHING takes no row lock, so
--    audited changes never wait on each other here).

ALTER TABLE sessions ADD COLUMN active_workspace_id TEXT;

ALTER TABLE invitations ADD COLUMN last_email_id TEXT;
UPDATE invitations SET last_email_id = (
    SELECT o.id FROM outbox_emails o WHERE o.invitation_id = invitations.id
    ORDER BY o.created_at DESC, o.id DESC LIMIT 1
);

CREATE TABLE audit_facets (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    label TEXT NOT NULL,
    PRIMARY KEY (workspace_id, kind, value)
);

INSERT INTO audit_facets (workspace_id, kind, value, label)
    SELECT DISTINCT workspace_id, 'action', action, action FROM audit_entries
    ON CONFLICT DO NOTHING;
INSERT INTO audit_facets (workspace_id, kind, value, label)
    SELECT DISTINCT ON (workspace_id, actor_user_id) workspace_id, 'actor', actor_user_id, actor_name
    FROM audit_entries WHERE actor_user_id IS NOT NULL
    ORDER BY workspace_id, actor_user_id, created_at
    ON CONFLICT DO NOTHING;

CREATE FUNCTION audit_entries_facets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit_facets (workspace_id, kind, value, label)
        VALUES (NEW.workspace_id, 'action', NEW.action, NEW.action)
        ON CONFLICT DO NOTHING;
    IF NEW.actor_user_id IS NOT NULL THEN
        INSERT INTO audit_facets (workspace_id, kind, value, label)
            VALUES (NEW.workspace_id, 'actor', NEW.actor_user_id, NEW.actor_name)
            ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER audit_entries_facets AFTER INSERT ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_facets();

-- 4. roles.member_count: how many memberships hold each role, kept in step
--    by statement-level triggers on memberships (one UPDATE per statement,
--    also for bulk loads), so the roles page doesn't group an
--    organization's memberships on every view. They fire after the
--    workspace counter's triggers (PostgreSQL fires them by name), so every
--    change locks the workspace row before a role row, as role edits do.
ALTER TABLE roles ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE roles SET member_count = (SELECT COUNT(*) FROM memberships m WHERE m.role_id = roles.id);

CREATE FUNCTION memberships_role_count_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE roles r SET member_count = r.member_count + d.n
    FROM (SELECT role_id, COUNT(*) AS n FROM new_rows GROUP BY role_id) d
    WHERE r.id = d.role_id;
    RETURN NULL;
END $$;

CREATE FUNCTION memberships_role_count_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE roles r SET member_count = r.member_count - d.n
    FROM (SELECT role_id, COUNT(*) AS n FROM old_rows GROUP BY role_id) d
    WHERE r.id = d.role_id;
    RETURN NULL;
END $$;

CREATE FUNCTION memberships_role_count_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE roles r SET member_count = r.member_count + d.delta
    FROM (SELECT role_id, SUM(delta) AS delta FROM (
              SELECT role_id, 1 AS delta FROM new_rows
              UNION ALL
              SELECT role_id, -1 AS delta FROM old_rows
          ) changes
          GROUP BY role_id HAVING SUM(delta) <> 0) d
    WHERE r.id = d.role_id;
    RETURN NULL;
END $$;

CREATE TRIGGER memberships_role_count_insert AFTER INSERT ON memberships
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_role_count_inserted();
CREATE TRIGGER memberships_role_count_delete AFTER DELETE ON memberships
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_role_count_deleted();
CREATE TRIGGER memberships_role_count_update AFTER UPDATE ON memberships
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION memberships_role_count_updated();
