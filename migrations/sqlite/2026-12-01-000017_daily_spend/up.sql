-- What each workspace was charged per UTC day, project and model, kept in
-- step with the ledger in the charge's transaction: the billing page's
-- chart and aggregates read a month of these rows, never the ledger.
CREATE TABLE daily_spend (
    workspace_id TEXT NOT NULL REFERENCES wallets (workspace_id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    project_id TEXT NOT NULL,
    model TEXT NOT NULL,
    amount BIGINT NOT NULL CHECK (amount >= 0),
    charges BIGINT NOT NULL CHECK (charges >= 0),
    PRIMARY KEY (workspace_id, day, project_id, model)
);
