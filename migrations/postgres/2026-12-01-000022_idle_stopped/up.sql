-- Whether an agent's or app instance's last stop was the idle job's: it
-- starts again on its next use (reported by the platform); one a person
-- stopped doesn't.
ALTER TABLE agents ADD COLUMN idle_stopped BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE app_instances ADD COLUMN idle_stopped BOOLEAN NOT NULL DEFAULT FALSE;
