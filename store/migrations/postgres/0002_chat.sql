-- rollout: expand
-- Chat: channels, members, the per-channel event log, messages and what
-- hangs off them (edits, reactions, mentions, thread follows), and the
-- full-text index over message bodies (a generated tsvector with GIN).
-- Times are unix microseconds UTC in BIGINT columns, as on SQLite.

CREATE TABLE channels (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL DEFAULT '',
    name_lower  TEXT    COLLATE "C" NOT NULL DEFAULT '',
    kind        TEXT    NOT NULL,
    encrypted   BOOLEAN NOT NULL DEFAULT FALSE,
    topic       TEXT    NOT NULL DEFAULT '',
    purpose     TEXT    NOT NULL DEFAULT '',
    created_by  TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    archived_at BIGINT,
    -- The last event seq handed out; NextSeq increments it in the
    -- transaction that stores the event (which also locks the row, so
    -- writers of one channel are serialized and seqs are gap-free).
    last_seq    BIGINT  NOT NULL DEFAULT 0,
    -- Direct channels only: mode and sorted member ids.
    dm_key      TEXT UNIQUE
);

-- Only public names are unique: a unique private name would let anyone
-- probe for private channels through name conflicts.
CREATE UNIQUE INDEX channels_public_name ON channels (name_lower) WHERE kind = 'public';
CREATE INDEX channels_kind_name ON channels (kind, name_lower);

CREATE TABLE channel_members (
    channel_id    TEXT    NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    user_id       TEXT    NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role          TEXT    NOT NULL,
    joined_at     BIGINT  NOT NULL,
    last_read_seq BIGINT  NOT NULL DEFAULT 0,
    muted         BOOLEAN NOT NULL DEFAULT FALSE,
    notify        TEXT    NOT NULL DEFAULT 'all',
    hidden        BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (channel_id, user_id)
);

CREATE INDEX channel_members_user ON channel_members (user_id);

CREATE TABLE channel_events (
    channel_id TEXT   NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    type       TEXT   NOT NULL,
    frame      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (channel_id, seq)
);

CREATE TABLE messages (
    id             TEXT    NOT NULL PRIMARY KEY,
    channel_id     TEXT    NOT NULL REFERENCES channels (id) ON DELETE CASCADE,
    seq            BIGINT  NOT NULL,
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
    last_reply_at  BIGINT,
    pinned         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at     BIGINT  NOT NULL,
    edited_at      BIGINT,
    deleted_at     BIGINT,
    -- 'simple': no stemming or stop words, like SQLite's unicode61, so both
    -- engines find the same messages.
    body_tsv       tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED,
    UNIQUE (channel_id, sender_id, client_msg_id)
);

CREATE UNIQUE INDEX messages_channel_seq ON messages (channel_id, seq);
CREATE INDEX messages_thread ON messages (thread_root_id, seq) WHERE thread_root_id IS NOT NULL;
CREATE INDEX messages_created ON messages (created_at, id);
CREATE INDEX messages_body_tsv ON messages USING GIN (body_tsv);

CREATE TABLE message_edits (
    message_id     TEXT   NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    edited_at      BIGINT NOT NULL,
    editor_id      TEXT   NOT NULL,
    old_body       TEXT   NOT NULL DEFAULT '',
    old_ciphertext TEXT   NOT NULL DEFAULT ''
);

CREATE INDEX message_edits_message ON message_edits (message_id, edited_at);

CREATE TABLE reactions (
    message_id TEXT   NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    TEXT   NOT NULL,
    emoji      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

-- One row per mentioned user (@channel expanded to the members at send
-- time), so that a user's mention count is an indexed range count.
CREATE TABLE mentions (
    message_id TEXT   NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    channel_id TEXT   NOT NULL,
    seq        BIGINT NOT NULL,
    user_id    TEXT   NOT NULL,
    PRIMARY KEY (message_id, user_id)
);

CREATE INDEX mentions_user_channel_seq ON mentions (user_id, channel_id, seq);

CREATE TABLE thread_follows (
    root_id   TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id   TEXT    NOT NULL,
    following BOOLEAN NOT NULL,
    PRIMARY KEY (root_id, user_id)
);
