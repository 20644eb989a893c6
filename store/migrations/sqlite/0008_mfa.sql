-- rollout: expand
-- Second factor and credential policy (package auth: totp.go, pat.go,
-- policy.go). Secrets are never stored in the clear: the TOTP secret is
-- sealed under the key-encryption key (auth/seal) with its user id as
-- associated data; recovery codes, MFA tickets and personal access tokens
-- are stored as SHA-256 hashes of high-entropy random values.

-- One TOTP authenticator per user. confirmed_at is NULL while the
-- enrolment waits for its first code. last_step is the highest time step
-- (unix time / 30 s) whose code was accepted: a code of that step or an
-- earlier one is refused, so each code works once.
CREATE TABLE totp_secrets (
    user_id      TEXT    NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed       BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    last_step    INTEGER NOT NULL DEFAULT 0
) STRICT;

-- Single-use recovery codes: SHA-256 of user id and code.
CREATE TABLE recovery_codes (
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hash       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (user_id, hash)
) STRICT;

-- The second step of a login: a short-lived, single-use ticket that a
-- right password earned. attempts counts wrong codes against it.
CREATE TABLE mfa_tickets (
    hash       BLOB    NOT NULL PRIMARY KEY,
    user_id    TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    used_at    INTEGER
) STRICT;
CREATE INDEX mfa_tickets_expires_at ON mfa_tickets (expires_at);

-- Personal access tokens: uhp_<id>_<secret>; only SHA-256(secret) is kept.
-- scopes is a space-separated list (read, write, admin).
CREATE TABLE access_tokens (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    scopes       TEXT    NOT NULL,
    hash         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at   INTEGER
) STRICT;
CREATE INDEX access_tokens_user ON access_tokens (user_id, created_at);

-- Accounts that may still sign in with a password under the "SSO only"
-- policy (--password-login sso-only).
CREATE TABLE break_glass_accounts (
    user_id TEXT   NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    set_at  INTEGER NOT NULL
) STRICT;
