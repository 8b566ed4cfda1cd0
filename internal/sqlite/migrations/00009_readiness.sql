-- +goose Up
-- A table that stays empty: the readiness probe (Store.Writable) inserts a
-- page's worth into it and rolls back, to learn whether the database can
-- take a write without writing anything.
CREATE TABLE readiness_probe (
    id     INTEGER PRIMARY KEY,
    filler BLOB NOT NULL
);

-- +goose Down
DROP TABLE readiness_probe;
