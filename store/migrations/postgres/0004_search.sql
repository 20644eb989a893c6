-- rollout: expand
-- Search walks messages newest first and stops after a page (see
-- chatstore/search.go and "Search" in docs/architecture.md): one index per
-- walk, in (created_at, id) order, holding only live messages (a tombstone
-- never matches). The time index replaces messages_created.
--
-- Unlike SQLite's, the time and sender indexes do not carry channel_id: a
-- walk reads each row for its tsvector anyway, and with the column there
-- the planner prefers walking every channel's rows in the time index,
-- checking the channel in the index (it costs index entries at almost
-- nothing), to walking one channel's in messages_search_channel, which
-- reads 20 times fewer entries in a server of 20 busy channels.
DROP INDEX messages_created;
-- All of a user's channels.
CREATE INDEX messages_search_time ON messages (created_at, id) WHERE deleted_at IS NULL;
-- in:<channel>
CREATE INDEX messages_search_channel ON messages (channel_id, created_at, id) WHERE deleted_at IS NULL;
-- from:<user>
CREATE INDEX messages_search_sender ON messages (sender_id, created_at, id) WHERE deleted_at IS NULL;
-- in:<channel> from:<user>
CREATE INDEX messages_search_channel_sender ON messages (channel_id, sender_id, created_at, id) WHERE deleted_at IS NULL;
