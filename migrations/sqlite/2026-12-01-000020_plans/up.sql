-- A wallet's plan (a key of the configured plans) and the last plan fee
-- charged ('YYYY-MM:plan'): the fee job picks the wallets whose fee for
-- this month and plan isn't paid, and the ledger's idempotency key
-- ('plan_fee:YYYY-MM:plan') makes a second charge impossible.
ALTER TABLE wallets ADD COLUMN plan TEXT NOT NULL DEFAULT 'free';
ALTER TABLE wallets ADD COLUMN plan_fee_paid TEXT NOT NULL DEFAULT '';
CREATE INDEX wallets_plan_fee_idx ON wallets (plan, plan_fee_paid);
