ALTER INDEX throttle_events_key_idx RENAME TO login_attempts_key_idx;
ALTER TABLE throttle_events RENAME CONSTRAINT throttle_events_pkey TO login_attempts_pkey;
ALTER TABLE throttle_events RENAME TO login_attempts;
