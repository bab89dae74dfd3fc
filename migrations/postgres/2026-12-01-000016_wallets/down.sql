DROP TABLE top_ups;
DROP TABLE ledger_entries;
DROP TABLE wallet_models;
DROP TABLE wallets;
