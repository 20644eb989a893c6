-- rollout: expand
-- Encrypted channels on the server. Disappearing messages: a channel's
-- timer (0: off) is copied into each message sent while it is set as
-- expires_at, and a sweep deletes the messages whose time has come, as a
-- member's delete does. Reactions in encrypted channels name their message
-- in the clear and carry the emoji as ciphertext, one row per reaction with
-- the seq of the event that added it (so that removing it can redact that
-- event). Reaction events are found by message for redaction.
ALTER TABLE channels ADD COLUMN disappear_after_s BIGINT NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN expires_at BIGINT;
CREATE INDEX messages_expires ON messages (expires_at) WHERE expires_at IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE encrypted_reactions (
    id         TEXT    PRIMARY KEY,
    message_id TEXT    NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    channel_id TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    ciphertext TEXT    NOT NULL,
    seq        BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX encrypted_reactions_message ON encrypted_reactions (message_id, created_at);
CREATE INDEX encrypted_reactions_user ON encrypted_reactions (user_id);
CREATE INDEX channel_events_reactions ON channel_events (message_id) WHERE type = 'reaction';
