-- rollout: expand
-- Chat: channels, members, the per-channel event log, messages and what
-- hangs off them (edits, reactions, mentions, thread follows), and the FTS5
-- index over message bodies. Times are unix microseconds UTC; booleans 0/1.

CREATE TABLE channels (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL DEFAULT '',
    name_lower  TEXT    NOT NULL DEFAULT '',
    kind        TEXT    NOT NULL,
    encrypted   INTEGER NOT NULL DEFAULT 0,
    topic       TEXT    NOT NULL DEFAULT '',
    purpose     TEXT    NOT NULL DEFAULT '',
    created_by  TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    archived_at INTEGER,
    -- The last event seq handed out; NextSeq increments it in the
    -- transaction that stores the event, so seqs are gap-free.
    last_seq    INTEGER NOT NULL DEFAULT 0,
    -- Direct channels only: mode and sorted member ids. Unique, so one
    -- member set and mode has one DM.
    dm_key      TEXT UNIQUE
) STRICT;

-- Only public names are unique: a unique private name would let anyone
-- probe for private channels through name conflicts.
CREATE UNIQUE INDEX channels_public_name ON channels (name_lower) WHERE kind = 'public';
CREATE INDEX channels_kind_name ON channels (kind, name_lower);

CREATE TABLE channel_members (
    channel_id    TEXT    NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT    NOT NULL,
    joined_at     INTEGER NOT NULL,
    last_read_seq INTEGER NOT NULL DEFAULT 0,
    muted         INTEGER NOT NULL DEFAULT 0,
    notify        TEXT    NOT NULL DEFAULT 'all',
    hidden        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, user_id)
) STRICT;

CREATE INDEX channel_members_user ON channel_members (user_id);

CREATE TABLE channel_events (
    channel_id TEXT    NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    type       TEXT    NOT NULL,
    frame      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (channel_id, seq)
) STRICT;

CREATE TABLE messages (
    -- An explicit rowid alias: the FTS5 index refers to rows by rowid, which
    -- VACUUM may renumber unless it is a declared INTEGER PRIMARY KEY.
    pk             INTEGER PRIMARY KEY,
    id             TEXT    NOT NULL UNIQUE,
    channel_id     TEXT    NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    client_msg_id  TEXT    NOT NULL,
    content_hash   TEXT    NOT NULL,
    sender_type    TEXT    NOT NULL,
    sender_id      TEXT    NOT NULL,
    kind           TEXT    NOT NULL,
    body           TEXT    NOT NULL DEFAULT '',
    ciphertext     TEXT    NOT NULL DEFAULT '',
    thread_root_id TEXT,
    -- What the body mentions, space-separated: user ids, and "channel".
    mentions       TEXT    NOT NULL DEFAULT '',
    reply_count    INTEGER NOT NULL DEFAULT 0,
    last_reply_at  INTEGER,
    pinned         INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL,
    edited_at      INTEGER,
    deleted_at     INTEGER,
    UNIQUE (channel_id, sender_id, client_msg_id)
) STRICT;

CREATE UNIQUE INDEX messages_channel_seq ON messages (channel_id, seq);
CREATE INDEX messages_thread ON messages (thread_root_id, seq) WHERE thread_root_id IS NOT NULL;
CREATE INDEX messages_created ON messages (created_at, id);

CREATE TABLE message_edits (
    message_id     TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    edited_at      INTEGER NOT NULL,
    editor_id      TEXT    NOT NULL,
    old_body       TEXT    NOT NULL DEFAULT '',
    old_ciphertext TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX message_edits_message ON message_edits (message_id, edited_at);

CREATE TABLE reactions (
    message_id TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    TEXT    NOT NULL,
    emoji      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
) STRICT;

-- One row per mentioned user (@channel expanded to the members at send
-- time), so that a user's mention count is an indexed range count.
CREATE TABLE mentions (
    message_id TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    channel_id TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    user_id    TEXT    NOT NULL,
    PRIMARY KEY (message_id, user_id)
) STRICT;

CREATE INDEX mentions_user_channel_seq ON mentions (user_id, channel_id, seq);

CREATE TABLE thread_follows (
    root_id   TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id   TEXT    NOT NULL,
    following INTEGER NOT NULL,
    PRIMARY KEY (root_id, user_id)
) STRICT;

-- External-content FTS5 index over messages.body, kept in step by triggers.
-- remove_diacritics 0 matches PostgreSQL's 'simple' configuration, so both
-- engines find the same messages.
CREATE VIRTUAL TABLE messages_fts USING fts5(
    body, content = 'messages', content_rowid = 'pk', tokenize = 'unicode61 remove_diacritics 0'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, body) VALUES (new.pk, new.body);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.pk, old.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, body) VALUES ('delete', old.pk, old.body);
    INSERT INTO messages_fts (rowid, body) VALUES (new.pk, new.body);
END;
