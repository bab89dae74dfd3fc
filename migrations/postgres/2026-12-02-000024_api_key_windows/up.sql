-- Calls each API key made in each minute, shared by every instance so a
-- key's rate limit holds however many instances serve it. Instances claim
-- calls in blocks (one statement per block, not per call) and never past
-- the limit; rows of past minutes are swept by the maintenance job.
CREATE TABLE api_key_windows (
    key_id TEXT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    -- Minutes since the Unix epoch.
    window_minute BIGINT NOT NULL,
    calls INTEGER NOT NULL CHECK (calls >= 0),
    PRIMARY KEY (key_id, window_minute)
);
CREATE INDEX api_key_windows_minute_idx ON api_key_windows (window_minute);
