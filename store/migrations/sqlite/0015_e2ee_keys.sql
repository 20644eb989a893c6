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
    identity_key BLOB,
    signing_key  BLOB,
    identity_sig BLOB,
    spk_id       INTEGER,
    spk_key      BLOB,
    spk_sig      BLOB,
    pq_id        INTEGER,
    pq_key       BLOB,
    pq_sig       BLOB,
    lr_id        INTEGER,
    lr_key       BLOB,
    lr_sig       BLOB,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    removed_at   INTEGER
) STRICT;
CREATE INDEX e2ee_clients_user ON e2ee_clients (user_id, created_at);

-- One-time prekeys, popped (deleted) one at a time by bundle fetches,
-- oldest upload first. kind is 'x25519' (unsigned) or 'mlkem768' (signed).
CREATE TABLE e2ee_prekeys (
    client_id  TEXT NOT NULL REFERENCES e2ee_clients (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    key_id     INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    sig        BLOB,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, kind, key_id)
) STRICT;
CREATE INDEX e2ee_prekeys_order ON e2ee_prekeys (client_id, kind, created_at, key_id);

-- Signed prekeys replaced by a newer one, kept for the grace period
-- (keys.RetiredGrace) so that their owner knows until when a handshake may
-- still name them; then swept. kind is 'signed' or 'pq'.
CREATE TABLE e2ee_retired_prekeys (
    client_id  TEXT NOT NULL REFERENCES e2ee_clients (id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    key_id     INTEGER NOT NULL,
    public_key BLOB NOT NULL,
    sig        BLOB NOT NULL,
    retired_at INTEGER NOT NULL,
    PRIMARY KEY (client_id, kind, key_id)
) STRICT;
CREATE INDEX e2ee_retired_prekeys_at ON e2ee_retired_prekeys (retired_at);

-- A user's master signing key and the list of their clients it signed:
-- client_list is the list's entries as JSON ([{client_id, signing_key}],
-- as signed), client_list_version its version (docs/protocol.md).
CREATE TABLE e2ee_user_keys (
    user_id             TEXT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    master_key          BLOB,
    master_at           INTEGER,
    client_list         TEXT,
    client_list_version INTEGER,
    client_list_sig     BLOB,
    client_list_at      INTEGER
) STRICT;

-- The encrypted key backup: one per user, opaque, replaced only by a
-- higher version.
CREATE TABLE e2ee_backups (
    user_id    TEXT NOT NULL PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    version    INTEGER NOT NULL,
    auth_data  BLOB NOT NULL,
    data       BLOB NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- The to-device inbox: pairwise ciphertext for one client, kept until
-- that client acknowledges it (the row is deleted) or until expires_at.
CREATE TABLE to_device (
    id          TEXT NOT NULL PRIMARY KEY,
    client_id   TEXT NOT NULL REFERENCES e2ee_clients (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL,
    from_user   TEXT NOT NULL,
    from_client TEXT NOT NULL,
    ciphertext  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX to_device_client ON to_device (client_id, id);
CREATE INDEX to_device_expires_at ON to_device (expires_at);
