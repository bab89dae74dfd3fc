-- Single-use links of an account: email verification, password reset and
-- email change. Only the SHA-256 of a token is stored; a token is bound to
-- one purpose and to the address it was sent to, expires, and is consumed
-- by one conditional update (used_at IS NULL AND expires_at > now).

CREATE TABLE account_tokens (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose TEXT NOT NULL CHECK (purpose IN ('verify_email', 'password_reset', 'email_change')),
    token_hash TEXT NOT NULL,
    email TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE UNIQUE INDEX account_tokens_hash_key ON account_tokens (token_hash);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose, created_at);
