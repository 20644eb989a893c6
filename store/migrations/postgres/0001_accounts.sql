-- rollout: expand
-- Accounts: users, sessions (refresh-token families), refresh tokens, invites.
-- Times are unix microseconds UTC in BIGINT columns, as on SQLite, so both
-- engines share one conversion.

CREATE TABLE users (
    id                 TEXT    NOT NULL PRIMARY KEY,
    username           TEXT    NOT NULL,
    -- strings.ToLower(username), maintained by the store: the unique key that
    -- makes usernames case-insensitive, and the search and pagination key.
    -- COLLATE "C" orders bytewise, as SQLite does, whatever the database
    -- locale, so cursor pagination returns the same pages on both engines.
    username_lower     TEXT    COLLATE "C" NOT NULL UNIQUE,
    display_name       TEXT    NOT NULL DEFAULT '',
    -- strings.ToLower(display_name), folded in Go like username_lower.
    display_name_lower TEXT    NOT NULL DEFAULT '',
    status_text        TEXT    NOT NULL DEFAULT '',
    role               TEXT    NOT NULL,
    disabled           BOOLEAN NOT NULL DEFAULT FALSE,
    password_hash      TEXT    NOT NULL,
    created_at         BIGINT  NOT NULL,
    updated_at         BIGINT  NOT NULL
);

CREATE TABLE sessions (
    id           TEXT   NOT NULL PRIMARY KEY,
    user_id      TEXT   NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ip           TEXT   NOT NULL DEFAULT '',
    user_agent   TEXT   NOT NULL DEFAULT '',
    revoked_at   BIGINT
);

-- ListSessions and RevokeSessions look sessions up by user, newest first.
CREATE INDEX sessions_user_id_created_at ON sessions (user_id, created_at);

CREATE TABLE refresh_tokens (
    hash        BYTEA  NOT NULL PRIMARY KEY,
    session_id  TEXT   NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    parent_hash BYTEA,
    created_at  BIGINT NOT NULL,
    used_at     BIGINT
);

-- Deleting a session cascades to its tokens; without this index every such
-- delete would scan the whole table.
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);

CREATE TABLE invites (
    code       TEXT    NOT NULL PRIMARY KEY,
    created_by TEXT    NOT NULL DEFAULT '',
    max_uses   INTEGER NOT NULL,
    uses       INTEGER NOT NULL DEFAULT 0,
    expires_at BIGINT,
    created_at BIGINT  NOT NULL
);

CREATE INDEX invites_created_at ON invites (created_at);
