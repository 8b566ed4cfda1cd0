-- +goose Up
-- After migration 7 has filled the columns: a GIN index built once over
-- the filled column is much quicker than one kept up to date row by row
-- during the backfill.
ALTER TABLE messages ALTER COLUMN position SET NOT NULL;
CREATE INDEX messages_search ON messages USING gin (search);
-- Newest first, and the cursor of the next page: a search for a common
-- word walks this backwards and stops at the page's end.
CREATE UNIQUE INDEX messages_position ON messages (position);
-- The same within one conversation, for a search of that conversation
-- alone.
CREATE INDEX messages_conversation_position ON messages (conversation_id, position);

-- +goose Down
DROP INDEX messages_conversation_position;
DROP INDEX messages_position;
DROP INDEX messages_search;
ALTER TABLE messages ALTER COLUMN position DROP NOT NULL;
