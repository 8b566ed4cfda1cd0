-- +goose Up
-- The same tables as the SQLite store's, in PostgreSQL's own types: times
-- are timestamptz (microseconds, as chat.Now keeps them).
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- "C" collation: byte order, as SQLite sorts, whatever the database's
    -- locale, so that search pages follow each other the same everywhere.
    username      text COLLATE "C" NOT NULL,
    display_name  text        NOT NULL,
    -- Lower-cased display name (computed in Go), for case-insensitive
    -- search beyond ASCII that does not depend on the server's locale.
    search_name   text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL
);

-- Usernames are unique in any letter case; logins look them up by it.
CREATE UNIQUE INDEX users_username_lower ON users (lower(username));
-- The people directory is paged in username order.
CREATE INDEX users_username ON users (username);

CREATE TABLE conversations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text        NOT NULL CHECK (kind IN ('direct', 'group')),
    title           text        NOT NULL DEFAULT '',
    direct_key      text        UNIQUE,
    last_seq        bigint      NOT NULL DEFAULT 0,
    last_message_at timestamptz,
    created_at      timestamptz NOT NULL
);

CREATE TABLE members (
    conversation_id bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    last_read_seq   bigint      NOT NULL DEFAULT 0,
    joined_at       timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

CREATE INDEX members_user ON members (user_id);

CREATE TABLE messages (
    conversation_id bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             bigint      NOT NULL,
    sender_id       bigint      NOT NULL REFERENCES users (id),
    body            text        NOT NULL,
    -- NULL when the send carries no client ID: NULLs never collide, so
    -- only idempotent sends are bound by the constraint.
    client_id       text,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, seq),
    CONSTRAINT messages_sender_client UNIQUE (sender_id, client_id)
);

-- Sessions as github.com/alexedwards/scs/v2 stores them.
CREATE TABLE sessions (
    token  text        PRIMARY KEY,
    data   bytea       NOT NULL,
    expiry timestamptz NOT NULL
);

CREATE INDEX sessions_expiry ON sessions (expiry);

-- +goose Down
DROP TABLE sessions;
DROP TABLE messages;
DROP TABLE members;
DROP TABLE conversations;
DROP TABLE users;
