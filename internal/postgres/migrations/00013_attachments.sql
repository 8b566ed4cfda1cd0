-- +goose Up
-- Attachments: the rows of uploaded files (their bytes are a blob store's).
-- An upload is pending (seq NULL) until a message of its uploader carries
-- it; then seq is that message's. deleted_at marks one whose message was
-- deleted or erased, or that was never sent: its bytes are to be removed,
-- then its row.
CREATE TABLE attachments (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id  bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    uploader_id      bigint      NOT NULL REFERENCES users (id),
    name             text        NOT NULL,
    content_type     text        NOT NULL,
    size             bigint      NOT NULL,
    sha256           text        NOT NULL,
    blob             text        NOT NULL,
    width            integer     NOT NULL DEFAULT 0,
    height           integer     NOT NULL DEFAULT 0,
    thumbnail        text,
    thumbnail_type   text,
    thumbnail_width  integer     NOT NULL DEFAULT 0,
    thumbnail_height integer     NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    seq              bigint,
    deleted_at       timestamptz
);

-- Uploads never sent, oldest first, for DropPendingAttachments.
CREATE INDEX attachments_pending ON attachments (created_at) WHERE seq IS NULL AND deleted_at IS NULL;
-- Attachments whose bytes are to be removed, for DeletedAttachments.
CREATE INDEX attachments_deleted ON attachments (deleted_at) WHERE deleted_at IS NOT NULL;
-- A message's attachments, marked deleted with it.
CREATE INDEX attachments_message ON attachments (conversation_id, seq);

-- A message's attachments as JSON (written and read only by the store), so
-- that every read of a message has them without another query; NULL when
-- it carries none.
ALTER TABLE messages ADD COLUMN attachments text;

-- +goose Down
ALTER TABLE messages DROP COLUMN attachments;
DROP TABLE attachments;
