DROP TABLE member_spend;
ALTER TABLE wallets DROP COLUMN member_monthly_limit;
