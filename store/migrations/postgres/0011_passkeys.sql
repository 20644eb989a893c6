-- rollout: expand
-- Passkeys (auth/passkey): users' WebAuthn credentials, and the short-lived
-- state of registration and sign-in ceremonies in progress.

-- One row per registered credential. credential_id is the authenticator's
-- id for it (unique across the server: the sign-in looks it up without a
-- username); credential is the whole record the assertions are checked
-- against, as JSON (public key, flags, counter, attestation): public data.
-- sign_count mirrors the record's counter so that a sign-in advances it
-- by compare-and-set.
CREATE TABLE passkeys (
    id              TEXT    NOT NULL PRIMARY KEY,
    user_id         TEXT    NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id   BYTEA   NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    backup_eligible BOOLEAN NOT NULL DEFAULT FALSE,
    sign_count      BIGINT  NOT NULL DEFAULT 0,
    credential      TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id, created_at);

-- A ceremony between begin and finish, kept here so that whichever node
-- receives the finish can check it. id_hash is SHA-256 of the ceremony id
-- the client holds; session is the challenge and relying party as JSON.
-- A row is deleted when used (single use) or once expired.
CREATE TABLE passkey_ceremonies (
    id_hash    BYTEA   NOT NULL PRIMARY KEY,
    purpose    TEXT    NOT NULL,
    user_id    TEXT,
    session_id TEXT,
    session    TEXT    NOT NULL,
    expires_at BIGINT  NOT NULL
);
CREATE INDEX passkey_ceremonies_expires_at ON passkey_ceremonies (expires_at);
