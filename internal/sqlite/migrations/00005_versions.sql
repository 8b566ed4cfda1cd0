-- +goose Up
-- Versions: every create, edit or delete of a message takes the
-- conversation's next version, so a client that remembers the highest
-- version it saw learns every change since with one query.
ALTER TABLE conversations ADD COLUMN last_version INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET last_version = last_seq;

-- Until now every message was created and never changed: its version is
-- its seq. edited_at and deleted_at are microseconds since the epoch; a
-- deleted message keeps its row (a tombstone) with its body erased.
ALTER TABLE messages ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
UPDATE messages SET version = seq;
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
CREATE UNIQUE INDEX messages_conversation_version ON messages (conversation_id, version);

-- +goose Down
DROP INDEX messages_conversation_version;
ALTER TABLE messages DROP COLUMN deleted_at;
ALTER TABLE messages DROP COLUMN edited_at;
ALTER TABLE messages DROP COLUMN version;
ALTER TABLE conversations DROP COLUMN last_version;
