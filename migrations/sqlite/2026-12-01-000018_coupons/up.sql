-- Coupons an operator creates with `tenantry coupon create`. A workspace
-- redeems one at most once (the ledger entry's idempotency key is
-- 'coupon:' || code, unique per wallet); redemptions counts them all and
-- is raised only below max_redemptions, in the redeeming transaction.
CREATE TABLE coupons (
    code TEXT PRIMARY KEY NOT NULL,
    amount BIGINT NOT NULL CHECK (amount > 0),
    expires_at TIMESTAMP,
    max_redemptions INTEGER CHECK (max_redemptions > 0),
    redemptions INTEGER NOT NULL DEFAULT 0 CHECK (redemptions >= 0),
    created_at TIMESTAMP NOT NULL
);
