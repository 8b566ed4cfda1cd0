-- +goose Up
-- Attachments: the rows of uploaded files (their bytes are a blob store's).
-- An upload is pending (seq NULL) until a message of its uploader carries
-- it; then seq is that message's. deleted_at marks one whose message was
-- deleted or erased, or that was never sent: its bytes are to be removed,
-- then its row. Times are microseconds since the epoch. AUTOINCREMENT: an
-- ID is never given again, even after its row is purged.
CREATE TABLE attachments (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id  INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    uploader_id      INTEGER NOT NULL REFERENCES users (id),
    name             TEXT    NOT NULL,
    content_type     TEXT    NOT NULL,
    size             INTEGER NOT NULL,
    sha256           TEXT    NOT NULL,
    blob             TEXT    NOT NULL,
    width            INTEGER NOT NULL DEFAULT 0,
    height           INTEGER NOT NULL DEFAULT 0,
    thumbnail        TEXT,
    thumbnail_type   TEXT,
    thumbnail_width  INTEGER NOT NULL DEFAULT 0,
    thumbnail_height INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    seq              INTEGER,
    deleted_at       INTEGER
);

-- Uploads never sent, oldest first, for DropPendingAttachments.
CREATE INDEX attachments_pending ON attachments (created_at) WHERE seq IS NULL AND deleted_at IS NULL;
-- Attachments whose bytes are to be removed, for DeletedAttachments.
CREATE INDEX attachments_deleted ON attachments (deleted_at) WHERE deleted_at IS NOT NULL;
-- A message's attachments, marked deleted with it.
CREATE INDEX attachments_message ON attachments (conversation_id, seq);

-- A message's attachments as JSON, so that every read of a message has
-- them without another query; NULL when it carries none.
ALTER TABLE messages ADD COLUMN attachments TEXT;

-- +goose Down
ALTER TABLE messages DROP COLUMN attachments;
DROP TABLE attachments;
