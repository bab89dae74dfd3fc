ALTER TABLE throttle_events RENAME TO login_attempts;
DROP INDEX throttle_events_key_idx;
CREATE INDEX login_attempts_key_idx ON login_attempts (throttle_key, attempted_at);
