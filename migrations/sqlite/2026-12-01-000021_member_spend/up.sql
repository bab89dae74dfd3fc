-- A monthly spend limit per member (the same for each member of the
-- workspace; NULL: none) and what each member's charges add up to per
-- month, kept in the charge's transaction and refused past the limit.
ALTER TABLE wallets ADD COLUMN member_monthly_limit BIGINT CHECK (member_monthly_limit > 0);
CREATE TABLE member_spend (
    workspace_id TEXT NOT NULL REFERENCES wallets (workspace_id) ON DELETE CASCADE,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month TEXT NOT NULL,
    spent BIGINT NOT NULL CHECK (spent >= 0),
    PRIMARY KEY (workspace_id, user_id, month)
);
