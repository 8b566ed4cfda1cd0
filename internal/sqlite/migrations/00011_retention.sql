-- +goose Up
-- Retention (-retention) erases the oldest text messages first; this
-- index holds only those it may still erase, so each of its passes reads
-- what is due and nothing it erased before.
CREATE INDEX messages_expiry ON messages (created_at) WHERE deleted_at IS NULL AND kind = 'text';

-- +goose Down
DROP INDEX messages_expiry;
