DROP INDEX audit_entries_workspace_idx;
DROP INDEX audit_entries_action_idx;
DROP INDEX audit_entries_actor_idx;
CREATE INDEX audit_entries_workspace_idx ON audit_entries (workspace_id, created_at);
CREATE INDEX audit_entries_action_idx ON audit_entries (workspace_id, action, created_at);
CREATE INDEX audit_entries_actor_idx ON audit_entries (workspace_id, actor_user_id, created_at);
