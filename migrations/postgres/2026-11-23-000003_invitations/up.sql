-- Invitations and the email outbox.

CREATE TABLE invitations (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role_id TEXT NOT NULL,
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
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, role_id) REFERENCES roles (workspace_id, id)
);
CREATE UNIQUE INDEX invitations_token_key ON invitations (token_hash);
-- At most one pending invitation per email and workspace.
CREATE UNIQUE INDEX invitations_pending_key ON invitations (workspace_id, email) WHERE status = 'pending';
CREATE INDEX invitations_workspace_idx ON invitations (workspace_id, status, created_at);

CREATE TABLE outbox_emails (
    id TEXT PRIMARY KEY NOT NULL,
    to_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    text_body TEXT NOT NULL,
    html_body TEXT NOT NULL,
    invitation_id TEXT REFERENCES invitations (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    claimed_until TIMESTAMP,
    sent_at TIMESTAMP,
    last_error TEXT
);
CREATE INDEX outbox_emails_due_idx ON outbox_emails (sent_at, next_attempt_at);
CREATE INDEX outbox_emails_invitation_idx ON outbox_emails (invitation_id);

CREATE INDEX memberships_workspace_status_idx ON memberships (workspace_id, status, id);
