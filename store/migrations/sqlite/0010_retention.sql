-- rollout: expand
-- Retention and legal holds. A channel's retention_days overrides the
-- server's --retention-days (NULL: the server's; 0: keep forever). A legal
-- hold on a user keeps every message they sent; on a channel, every message
-- in it: retention skips them until the hold is released.

ALTER TABLE channels ADD COLUMN retention_days INTEGER;

CREATE TABLE legal_holds (
    kind       TEXT    NOT NULL CHECK (kind IN ('user', 'channel')),
    target_id  TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (kind, target_id)
) STRICT;

-- Retention walks a channel's live messages oldest first.
CREATE INDEX messages_retention ON messages (channel_id, created_at) WHERE deleted_at IS NULL;
