-- +goose Up
-- Message search. search holds the words of a text message's body as
-- chat.SearchWords cuts them (computed in Go, never by PostgreSQL's parser,
-- so that both stores find the same messages), with their positions for
-- phrases; it is NULL for system and deleted messages. position orders the
-- results, newest first: taken from a sequence when the message is
-- created, never changed by an edit.
ALTER TABLE messages ADD COLUMN search tsvector;
ALTER TABLE messages ADD COLUMN position bigint;
CREATE SEQUENCE messages_position_seq OWNED BY messages.position;
-- The messages already here take positions 1 to their count (migration 7
-- gives them out in the order they were created); any message inserted
-- from now on takes one above, even by a node that does not know the
-- column yet. ADD COLUMN holds the table's lock until this commits, so
-- the count is exact.
SELECT setval('messages_position_seq', (SELECT count(*) + 1 FROM messages), false);
ALTER TABLE messages ALTER COLUMN position SET DEFAULT nextval('messages_position_seq');

-- +goose Down
ALTER TABLE messages DROP COLUMN position;
ALTER TABLE messages DROP COLUMN search;
