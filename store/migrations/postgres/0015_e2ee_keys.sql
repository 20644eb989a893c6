-- rollout: expand
-- End-to-end encryption, the server's part (package keys): the public-key
-- directory of client installs, one-time prekeys, the users' master keys
-- and signed client lists, the encrypted key backup, and the to-device
-- inbox. Everything here is public keys, signatures or ciphertext the
-- server cannot open; each is stored as the bytes the client uploaded
-- (base64 in the API). Times are unix microseconds UTC.

-- The client install a session registered last (keys.Service.PutClient):
-- a refresh of the session puts it in the access token's client_id claim.
ALTER TABLE sessions ADD COLUMN client_id TEXT;

-- One row per client install. id is chosen by the client and belongs to
-- user_id forever: a removed client keeps its row (removed_at set, its
-- keys cleared), so the id is never handed to anyone else. The signed
-- prekey (spk_*), the post-quantum signed prekey (pq_*, optional) and the
-- last-resort prekey (lr_*, optional) are each the current one; a replaced
-- signed or post-quantum prekey moves to e2ee_retired_prekeys.
CREATE TABLE e2ee_clients (
    id           TEXT NOT NULL PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    identity_key BYTEA,
    signing_key  BYTEA,
    identity_sig BYTEA,
    spk_id       BIGINT,
    spk_key      BYTEA,
    spk_sig      BYTEA,
    pq_id        BIGINT,
    pq_key       BYTEA,
    pq_sig       BYTEA,
    lr_id        BIGINT,
    lr_key       BYTEA,
    lr_sig       BYTEA,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    removed_at   BIGINT
);
CREATE INDEX e2ee_clients_user ON e2ee_clients (user_id, created_at);

-- One-time prekeys, popped (deleted) one at a time by bundle fetches,
-- oldest upload first. kind is 'x25519' (unsigned) or 'mlkem768' (signed).
CREATE TABLE e2ee_prekeys (
    client_id  TEXT NOT NULL REFERENCES e2ee_clients (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    key_id     BIGINT NOT NULL,
    public_key BYTEA NOT NULL,
    sig        BYTEA,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, kind, key_id)
);
CREATE INDEX e2ee_prekeys_order ON e2ee_prekeys (client_id, kind, created_at, key_id);

-- Signed prekeys replaced by a newer one, kept for the grace period
-- (keys.RetiredGrace) so that their owner knows until when a handshake may
-- still name them; then swept. kind is 'signed' or 'pq'.
CREATE TABLE e2ee_retired_prekeys (
    client_id  TEXT NOT NULL REFERENCES e2ee_clients (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    key_id     BIGINT NOT NULL,
    public_key BYTEA NOT NULL,
    sig        BYTEA NOT NULL,
    retired_at BIGINT NOT NULL,
    PRIMARY KEY (client_id, kind, key_id)
);
CREATE INDEX e2ee_retired_prekeys_at ON e2ee_retired_prekeys (retired_at);

-- A user's master signing key and the list of their clients it signed:
-- client_list is the list's entries as JSON ([{client_id, signing_key}],
-- as signed), client_list_version its version (docs/protocol.md).
CREATE TABLE e2ee_user_keys (
    user_id             TEXT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    master_key          BYTEA,
    master_at           BIGINT,
    client_list         TEXT,
    client_list_version BIGINT,
    client_list_sig     BYTEA,
    client_list_at      BIGINT
);

-- The encrypted key backup: one per user, opaque, replaced only by a
-- higher version.
CREATE TABLE e2ee_backups (
    user_id    TEXT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version    BIGINT NOT NULL,
    auth_data  BYTEA NOT NULL,
    data       BYTEA NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The to-device inbox: pairwise ciphertext for one client, kept until
-- that client acknowledges it (the row is deleted) or until expires_at.
CREATE TABLE to_device (
    id          TEXT NOT NULL PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES e2ee_clients (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    from_user   TEXT NOT NULL,
    from_client TEXT NOT NULL,
    ciphertext  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX to_device_client ON to_device (client_id, id);
CREATE INDEX to_device_expires_at ON to_device (expires_at);
