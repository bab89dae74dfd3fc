-- The throttle table holds every throttle key (sign-in per account and per
-- IP, sign-up, password reset, organization creation), not only sign-in
-- attempts: it is named for what it holds. SQLite renames the primary key's
-- index with the table; the key index is re-created under the new name.

ALTER TABLE login_attempts RENAME TO throttle_events;
DROP INDEX login_attempts_key_idx;
CREATE INDEX throttle_events_key_idx ON throttle_events (throttle_key, attempted_at);
