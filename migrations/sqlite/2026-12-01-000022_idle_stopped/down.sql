ALTER TABLE app_instances DROP COLUMN idle_stopped;
ALTER TABLE agents DROP COLUMN idle_stopped;
