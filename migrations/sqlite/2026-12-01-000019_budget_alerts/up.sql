-- Budget alerts sent: one row per wallet, month and threshold (a
-- percentage of the monthly spend limit), written in the charge's
-- transaction with the alert emails, so each goes out once a month.
CREATE TABLE budget_alerts (
    workspace_id TEXT NOT NULL REFERENCES wallets (workspace_id) ON DELETE CASCADE,
    month TEXT NOT NULL,
    threshold INTEGER NOT NULL CHECK (threshold > 0),
    sent_at TIMESTAMP NOT NULL,
    PRIMARY KEY (workspace_id, month, threshold)
);
