-- +goose Up
-- Site admins, deactivated accounts and invitations. An invitation's link
-- carries a random token; only its SHA-256 is stored.
ALTER TABLE users ADD COLUMN is_admin boolean NOT NULL DEFAULT false;
ALTER TABLE users ADD COLUMN deactivated_at timestamptz;

-- A server that ran before there were admins gets one: its first open
-- account, as a new server's first account is.
UPDATE users SET is_admin = true
WHERE id = (SELECT min(id) FROM users WHERE closed_at IS NULL);

CREATE TABLE invitations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash text        NOT NULL UNIQUE,
    -- NULL: made by an operator with `parley admin create-invitation`.
    created_by bigint      REFERENCES users (id),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    max_uses   integer     NOT NULL CHECK (max_uses > 0),
    uses       integer     NOT NULL DEFAULT 0 CHECK (uses <= max_uses),
    revoked_at timestamptz
);

-- +goose Down
DROP TABLE invitations;
ALTER TABLE users DROP COLUMN deactivated_at;
ALTER TABLE users DROP COLUMN is_admin;
