-- rollout: expand
-- Keys and secrets shared by every node of a cluster through the database,
-- so that a second node needs no key files copied by hand. Private
-- material is sealed (AES-256-GCM, package auth/seal) under the
-- key-encryption key, which never enters the database.

-- Token signing keys. generation orders them and is unique, so that of two
-- nodes rotating at once only one stores its new key; the others reload.
CREATE TABLE signing_keys (
    kid        TEXT    NOT NULL PRIMARY KEY,
    generation INTEGER NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    sealed     BLOB    NOT NULL
) STRICT;

-- Small server secrets by name (the device-token HMAC key), sealed with
-- the name as their associated data.
CREATE TABLE server_secrets (
    name       TEXT    NOT NULL PRIMARY KEY,
    sealed     BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

-- SHA-256 hashes of the one-time setup tokens that nodes logged while no
-- admin exists; creating the first admin deletes them all.
CREATE TABLE setup_tokens (
    hash       BLOB    NOT NULL PRIMARY KEY,
    created_at INTEGER NOT NULL
) STRICT;
