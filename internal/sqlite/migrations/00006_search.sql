-- +goose Up
-- Message search. position orders the results, newest first: a text
-- message takes the next one when it is created and keeps it when edited;
-- system messages have none. Migration 7 gives the messages already here
-- theirs, in the order they were created.
ALTER TABLE messages ADD COLUMN position INTEGER;
CREATE UNIQUE INDEX messages_position ON messages (position);

-- The index of the words of text messages, under their position (its
-- rowid): chat.SearchWords computed in Go and joined by single spaces, so
-- the 'ascii' tokenizer, which splits at spaces only (the words hold no
-- other ASCII separator) and leaves non-ASCII characters alone, indexes
-- exactly those words. Contentless: the body is in messages already. A
-- message's words leave it by the 'delete' command, with secure-delete so
-- that they are taken out of the index's pages at once rather than
-- outliving the message until a merge. columnsize=0: no ranking, so no
-- per-row sizes to keep.
--
-- Every word searched is a prefix query. Without a prefix index of its
-- length FTS5 merges the lists of all the terms it begins before the first
-- hit, a cost in proportion to how many messages hold them (a 1-letter
-- search reads most of the index); with one, the walk stops at the end of
-- the page. Lengths 1 to 4 cover the common words; longer ones begin
-- fewer terms, held by fewer messages.
CREATE VIRTUAL TABLE message_search USING fts5 (
    words, content = '', columnsize = 0, tokenize = 'ascii', prefix = '1 2 3 4'
);
INSERT INTO message_search (message_search, rank) VALUES ('secure-delete', 1);

-- +goose Down
DROP TABLE message_search;
DROP INDEX messages_position;
ALTER TABLE messages DROP COLUMN position;
