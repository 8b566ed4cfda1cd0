-- +goose Up
-- Site admins, deactivated accounts (deactivated_at, microseconds) and
-- invitations. An invitation's link carries a random token; only its
-- SHA-256 is stored.
ALTER TABLE users ADD COLUMN is_admin INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN deactivated_at INTEGER;

-- A server that ran before there were admins gets one: its first open
-- account, as a new server's first account is.
UPDATE users SET is_admin = 1
WHERE id = (SELECT min(id) FROM users WHERE closed_at IS NULL);

CREATE TABLE invitations (
    id         INTEGER PRIMARY KEY,
    token_hash TEXT    NOT NULL UNIQUE,
    -- NULL: made by an operator with `parley admin create-invitation`.
    created_by INTEGER REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_uses   INTEGER NOT NULL CHECK (max_uses > 0),
    uses       INTEGER NOT NULL DEFAULT 0 CHECK (uses <= max_uses),
    revoked_at INTEGER
);

-- +goose Down
DROP TABLE invitations;
ALTER TABLE users DROP COLUMN deactivated_at;
ALTER TABLE users DROP COLUMN is_admin;
