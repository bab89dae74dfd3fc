-- One wallet per workspace. Money is integer micro-credits (1 credit =
-- 1 000 000). The balance changes only with an entry of the append-only
-- ledger, in the same transaction, so balance = the sum of the entries;
-- a debit is one conditional update (balance >= amount, the monthly spend
-- limit not passed, the model allowed) and can't overdraw.
CREATE TABLE wallets (
    workspace_id TEXT PRIMARY KEY NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    balance BIGINT NOT NULL DEFAULT 0 CHECK (balance >= 0),
    -- The calendar month ('YYYY-MM', UTC) month_spent counts; a charge in
    -- a later month starts it again.
    spend_month TEXT NOT NULL DEFAULT '',
    month_spent BIGINT NOT NULL DEFAULT 0 CHECK (month_spent >= 0),
    -- NULL: no limit.
    monthly_spend_limit BIGINT CHECK (monthly_spend_limit > 0),
    -- When true, only the models listed in wallet_models may be charged.
    models_restricted BOOLEAN NOT NULL DEFAULT 0,
    updated_at TIMESTAMP NOT NULL
);
INSERT INTO wallets (workspace_id, updated_at) SELECT id, created_at FROM workspaces;

CREATE TABLE wallet_models (
    workspace_id TEXT NOT NULL REFERENCES wallets (workspace_id) ON DELETE CASCADE,
    model TEXT NOT NULL,
    PRIMARY KEY (workspace_id, model)
);

-- Every change of a balance, never updated or deleted. amount is signed
-- (a debit is negative); balance_after is the balance the change left.
-- The idempotency key is unique per wallet: a top-up, coupon, plan fee or
-- charge is entered once however often it is asked for; request_digest
-- tells a repeat from a reuse of the key with other parameters.
CREATE TABLE ledger_entries (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES wallets (workspace_id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('top_up', 'coupon', 'charge', 'refund', 'adjustment',
                                       'plan_fee', 'transfer_in', 'transfer_out')),
    amount BIGINT NOT NULL CHECK (amount <> 0),
    balance_after BIGINT NOT NULL CHECK (balance_after >= 0),
    idempotency_key TEXT NOT NULL,
    request_digest TEXT NOT NULL,
    -- The project whose key was charged (no foreign key: the history
    -- outlives a deleted project and stays with the wallet that paid).
    project_id TEXT,
    model TEXT,
    description TEXT NOT NULL DEFAULT '',
    user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX ledger_entries_page_idx ON ledger_entries (workspace_id, created_at, id);

-- A payment asked of the provider. Credited (once) when the provider's
-- signed notification arrives: the pending -> succeeded update is the gate.
CREATE TABLE top_ups (
    id TEXT PRIMARY KEY NOT NULL,
    workspace_id TEXT NOT NULL REFERENCES wallets (workspace_id) ON DELETE CASCADE,
    amount BIGINT NOT NULL CHECK (amount > 0),
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'declined')),
    card_last4 TEXT NOT NULL,
    decline_reason TEXT NOT NULL DEFAULT '',
    ledger_entry_id TEXT REFERENCES ledger_entries (id),
    requested_by TEXT REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    UNIQUE (workspace_id, id)
);
