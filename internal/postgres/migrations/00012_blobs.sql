-- +goose Up
-- Attachment bytes, for servers that keep everything in PostgreSQL. A blob
-- is a row of blobs and its bytes in blob_chunks, cut in chunks of
-- chunk_size bytes (the last one shorter), so that writing a blob and
-- reading any range of it move one chunk at a time, never the whole blob.
-- chunk_size is kept per blob so that a later chunk size leaves older blobs
-- readable.
CREATE TABLE blobs (
    key        text        PRIMARY KEY CHECK (key ~ '^[0-9a-f]{32}$'),
    size       bigint      NOT NULL CHECK (size >= 0),
    sha256     text        NOT NULL,
    chunk_size integer     NOT NULL CHECK (chunk_size > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE blob_chunks (
    -- Deferred: a Put inserts its chunks as it reads them and the blobs row,
    -- which needs the size and hash, last, all in one transaction.
    key  text    NOT NULL REFERENCES blobs (key) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    n    integer NOT NULL CHECK (n >= 0),
    data bytea   NOT NULL,
    PRIMARY KEY (key, n)
);

-- Attachments are mostly compressed already (images, archives): chunks are
-- stored out of line as they are, sparing every write a vain compression.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- +goose Down
DROP TABLE blob_chunks;
DROP TABLE blobs;
