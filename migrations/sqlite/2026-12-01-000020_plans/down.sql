DROP INDEX wallets_plan_fee_idx;
ALTER TABLE wallets DROP COLUMN plan_fee_paid;
ALTER TABLE wallets DROP COLUMN plan;
