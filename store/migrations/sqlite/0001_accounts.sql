-- rollout: expand
-- Accounts: users, sessions (refresh-token families), refresh tokens, invites.
-- Times are unix microseconds UTC; booleans are 0/1. STRICT makes SQLite
-- reject a value of the wrong type instead of storing it silently.

CREATE TABLE users (
    id                 TEXT    NOT NULL PRIMARY KEY,
    username           TEXT    NOT NULL,
    -- strings.ToLower(username), maintained by the store: the unique key that
    -- makes usernames case-insensitive, and the search and pagination key.
    username_lower     TEXT    NOT NULL UNIQUE,
    display_name       TEXT    NOT NULL DEFAULT '',
    -- strings.ToLower(display_name): SQLite's lower() folds ASCII only, so the
    -- store folds in Go and both engines search the same way.
    display_name_lower TEXT    NOT NULL DEFAULT '',
    status_text        TEXT    NOT NULL DEFAULT '',
    role               TEXT    NOT NULL,
    disabled           INTEGER NOT NULL DEFAULT 0,
    password_hash      TEXT    NOT NULL,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id           TEXT    NOT NULL PRIMARY KEY,
    user_id      TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    ip           TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT '',
    revoked_at   INTEGER
) STRICT;

-- ListSessions and RevokeSessions look sessions up by user, newest first.
CREATE INDEX sessions_user_id_created_at ON sessions (user_id, created_at);

CREATE TABLE refresh_tokens (
    hash        BLOB    NOT NULL PRIMARY KEY,
    session_id  TEXT    NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_hash BLOB,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER
) STRICT;

-- Deleting a session cascades to its tokens; without this index every such
-- delete would scan the whole table.
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE invites (
    code       TEXT    NOT NULL PRIMARY KEY,
    created_by TEXT    NOT NULL DEFAULT '',
    max_uses   INTEGER NOT NULL,
    uses       INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX invites_created_at ON invites (created_at);
