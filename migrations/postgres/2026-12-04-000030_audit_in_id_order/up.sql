-- The audit log and the dashboard's latest activity read a workspace's
-- entries newest first by id (ids are time-ordered), with `id < cursor`
-- for later pages, but the indexes were on (workspace_id, …, created_at),
-- which nothing orders by. So the newest entries of a workspace were found
-- by walking the primary key backward through every workspace's entries
-- until enough of this one's turned up: a quiet workspace's dashboard cost
-- what the busy ones had written since its last entry. Keyed by id, a
-- page reads its own rows and no others.
DROP INDEX audit_entries_workspace_idx;
DROP INDEX audit_entries_action_idx;
DROP INDEX audit_entries_actor_idx;
CREATE INDEX audit_entries_workspace_idx ON audit_entries (workspace_id, id);
CREATE INDEX audit_entries_action_idx ON audit_entries (workspace_id, action, id);
CREATE INDEX audit_entries_actor_idx ON audit_entries (workspace_id, actor_user_id, id);
