-- rollout: expand
-- Single sign-on (auth/sso): the accounts of OpenID Connect providers
-- linked to users, and the short-lived state of sign-in flows in progress.

-- One row per (provider, subject): the provider's stable user id. A user
-- has at most one identity per provider. provisioned is true when signing in
-- with this identity created the account (it then has no usable password,
-- so the last such identity cannot be unlinked).
CREATE TABLE identities (
    provider    TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    user_id     TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    provisioned BOOLEAN NOT NULL DEFAULT FALSE,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (provider, subject)
);
CREATE UNIQUE INDEX identities_user_provider ON identities (user_id, provider);

-- A sign-in or link flow between /start and /callback, kept here so that
-- whichever node receives the callback can finish it. state_hash and
-- binding_hash are SHA-256 of the state parameter and of the browser's
-- binding cookie; the nonce and PKCE verifier are stored plain (they live
-- ten minutes and are useless without the browser's cookie and code).
-- A row is deleted when used (single use) or once expired.
CREATE TABLE sso_states (
    state_hash   BYTEA   NOT NULL PRIMARY KEY,
    binding_hash BYTEA   NOT NULL,
    provider     TEXT    NOT NULL,
    purpose      TEXT    NOT NULL,
    user_id      TEXT,
    nonce        TEXT    NOT NULL,
    verifier     TEXT    NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX sso_states_expires_at ON sso_states (expires_at);
