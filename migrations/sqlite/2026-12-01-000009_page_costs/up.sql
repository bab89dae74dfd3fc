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
    SELECT DISTINCT workspace_id, 'action', action, action FROM audit_entries WHERE true
    ON CONFLICT DO NOTHING;
INSERT INTO audit_facets (workspace_id, kind, value, label)
    SELECT workspace_id, 'actor', actor_user_id, actor_name FROM audit_entries
    WHERE actor_user_id IS NOT NULL ORDER BY created_at
    ON CONFLICT DO NOTHING;

CREATE TRIGGER audit_entries_facets AFTER INSERT ON audit_entries
BEGIN
    INSERT INTO audit_facets (workspace_id, kind, value, label)
        VALUES (new.workspace_id, 'action', new.action, new.action)
        ON CONFLICT DO NOTHING;
    INSERT INTO audit_facets (workspace_id, kind, value, label)
        SELECT new.workspace_id, 'actor', new.actor_user_id, new.actor_name
        WHERE new.actor_user_id IS NOT NULL
        ON CONFLICT DO NOTHING;
END;

-- 4. roles.member_count: how many memberships hold each role, kept in step
--    by triggers on memberships, so the roles page doesn't group an
--    organization's memberships on every view.
ALTER TABLE roles ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE roles SET member_count = (SELECT COUNT(*) FROM memberships m WHERE m.role_id = roles.id);

CREATE TRIGGER memberships_role_count_insert AFTER INSERT ON memberships
BEGIN
    UPDATE roles SET member_count = member_count + 1 WHERE id = new.role_id;
END;

CREATE TRIGGER memberships_role_count_delete AFTER DELETE ON memberships
BEGIN
    UPDATE roles SET member_count = member_count - 1 WHERE id = old.role_id;
END;

CREATE TRIGGER memberships_role_count_update AFTER UPDATE OF role_id ON memberships
WHEN old.role_id <> new.role_id
BEGIN
    UPDATE roles SET member_count = member_count - 1 WHERE id = old.role_id;
    UPDATE roles SET member_count = member_count + 1 WHERE id = new.role_id;
END;
