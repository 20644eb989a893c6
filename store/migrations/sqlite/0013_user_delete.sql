-- rollout: expand
-- Deleting an account (auth.Service.AdminDeleteUser). The users row stays as
-- the account's tombstone, so that the messages it sent keep a sender that
-- resolves ("Deleted user"): deleted_at is when it was deleted, delete_mode
-- how ('anonymise' keeps the messages, 'erase' deletes them), and purged_at
-- when the rest of the work (memberships, and for 'erase' every message)
-- was finished. A row with deleted_at set and purged_at NULL is work still
-- to do, which every node resumes.
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
ALTER TABLE users ADD COLUMN delete_mode TEXT;
ALTER TABLE users ADD COLUMN purged_at INTEGER;
CREATE INDEX users_delete_pending ON users (deleted_at) WHERE deleted_at IS NOT NULL AND purged_at IS NULL;

-- Erasing an account removes its reactions on other people's messages.
CREATE INDEX reactions_user ON reactions (user_id);
