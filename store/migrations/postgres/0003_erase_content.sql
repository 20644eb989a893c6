-- rollout: expand
-- Deletion that deletes. A channel event no longer stores message content:
-- a message's body, ciphertext, mentions, edit time and attachments live in
-- its row alone, and an event is read back joined to that row as it now is
-- (chatstore Events), so an edit or a delete changes every replay at once.
-- message_id and user_id say what an event is about without parsing its
-- frame.
ALTER TABLE channel_events ADD COLUMN message_id TEXT, ADD COLUMN user_id TEXT;

UPDATE channel_events
SET message_id = frame::jsonb #>> '{message,id}',
    frame = (frame::jsonb #- '{message,body}' #- '{message,ciphertext}' #- '{message,mentions}'
                          #- '{message,edited_at}' #- '{message,attachments}' #- '{message,deleted}')::text
WHERE type IN ('message', 'message_updated');
UPDATE channel_events SET message_id = frame::jsonb ->> 'message_id'
WHERE type IN ('message_deleted', 'reaction');
UPDATE channel_events SET user_id = frame::jsonb ->> 'user_id'
WHERE type IN ('member_joined', 'member_left', 'reaction');

-- What a delete leaves is the tombstone: the edit history, reactions and
-- the idempotency hash of deleted messages go.
DELETE FROM message_edits WHERE message_id IN (SELECT id FROM messages WHERE deleted_at IS NOT NULL);
DELETE FROM reactions WHERE message_id IN (SELECT id FROM messages WHERE deleted_at IS NOT NULL);
UPDATE messages SET content_hash = '' WHERE deleted_at IS NOT NULL;
