-- rollout: expand
-- Search walks messages newest first and stops after a page (see
-- chatstore/search.go and "Search" in docs/architecture.md): one index per
-- walk, in (created_at, id) order, holding only live messages (a tombstone
-- never matches) and the column the walk filters on, so that on SQLite a
-- walk reads the index alone (an index also holds the rowid, which the
-- full-text test uses). The time index replaces messages_created.
DROP INDEX messages_created;
-- All of a user's channels: the channel is checked in the index.
CREATE INDEX messages_search_time ON messages (created_at, id, channel_id) WHERE deleted_at IS NULL;
-- in:<channel>
CREATE INDEX messages_search_channel ON messages (channel_id, created_at, id) WHERE deleted_at IS NULL;
-- from:<user>, with the channel checked in the index.
CREATE INDEX messages_search_sender ON messages (sender_id, created_at, id, channel_id) WHERE deleted_at IS NULL;
-- in:<channel> from:<user>
CREATE INDEX messages_search_channel_sender ON messages (channel_id, sender_id, created_at, id) WHERE deleted_at IS NULL;
