DROP INDEX memberships_workspace_status_idx;
DROP TABLE outbox_emails;
DROP TABLE invitations;
