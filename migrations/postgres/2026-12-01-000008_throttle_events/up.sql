-- The throttle table holds every throttle key (sign-in per account and per
-- IP, sign-up, password reset, organization creation), not only sign-in
-- attempts: it is named for what it holds, and so are its key and index.

ALTER TABLE login_attempts RENAME TO throttle_events;
ALTER TABLE throttle_events RENAME CONSTRAINT login_attempts_pkey TO throttle_events_pkey;
ALTER INDEX login_attempts_key_idx RENAME TO throttle_events_key_idx;
