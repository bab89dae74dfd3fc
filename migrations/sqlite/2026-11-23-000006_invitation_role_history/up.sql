-- An invitation keeps the name of the role it offered, so a custom role that
-- only old (accepted, declined, revoked, expired) invitations name can be
-- deleted: their role_id becomes NULL and the history still reads right.
-- A pending invitation always names a role. SQLite's documented table
-- rebuild (foreign keys off, copy, swap, check, on).
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE invitations_rebuilt (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role_id TEXT,
    token_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'accepted', 'declined', 'revoked', 'expired')),
    invited_by_user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    invited_by_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    send_count INTEGER NOT NULL DEFAULT 1,
    last_sent_at TIMESTAMP NOT NULL,
    resolved_at TIMESTAMP,
    resolved_by_name TEXT,
    role_name TEXT NOT NULL DEFAULT '',
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, role_id) REFERENCES roles (workspace_id, id),
    CONSTRAINT invitations_pending_has_role CHECK (status <> 'pending' OR role_id IS NOT NULL)
);
INSERT INTO invitations_rebuilt (
    id, workspace_id, email, name, role_id, token_hash, status, invited_by_user_id,
    invited_by_name, created_at, expires_at, send_count, last_sent_at, resolved_at,
    resolved_by_name, role_name)
SELECT i.id, i.workspace_id, i.email, i.name, i.role_id, i.token_hash, i.status,
       i.invited_by_user_id, i.invited_by_name, i.created_at, i.expires_at, i.send_count,
       i.last_sent_at, i.resolved_at, i.resolved_by_name,
       COALESCE((SELECT r.name FROM roles r WHERE r.id = i.role_id), '')
FROM invitations i;
DROP TABLE invitations;
ALTER TABLE invitations_rebuilt RENAME TO invitations;
CREATE UNIQUE INDEX invitations_token_key ON invitations (token_hash);
CREATE UNIQUE INDEX invitations_pending_key ON invitations (workspace_id, email) WHERE status = 'pending';
CREATE INDEX invitations_workspace_idx ON invitations (workspace_id, status, created_at);
CREATE INDEX invitations_inviter_idx ON invitations (workspace_id, invited_by_user_id) WHERE status = 'pending';
COMMIT;
PRAGMA foreign_keys = ON;
