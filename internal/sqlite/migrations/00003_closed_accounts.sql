-- +goose Up
-- A closed account keeps its row, so that its username stays taken and its
-- messages keep their sender; closed_at (microseconds) marks it.
ALTER TABLE users ADD COLUMN closed_at INTEGER;

-- +goose Down
ALTER TABLE users DROP COLUMN closed_at;
