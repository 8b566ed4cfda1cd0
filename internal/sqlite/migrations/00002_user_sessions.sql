-- +goose Up
-- Which user each HTTP session belongs to, so that all of a user's sessions
-- can be ended at once (scs keeps a session's user inside its opaque data).
-- token is the sessions table's key; deadline is the session's absolute
-- expiry in microseconds; an ended session keeps its row until then, so that
-- a request still under way cannot store it again.
CREATE TABLE user_sessions (
    token    TEXT    PRIMARY KEY,
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    deadline INTEGER NOT NULL,
    ended    INTEGER NOT NULL DEFAULT 0
);

CREATE INDEX user_sessions_user ON user_sessions (user_id);
CREATE INDEX user_sessions_deadline ON user_sessions (deadline);

-- +goose Down
DROP TABLE user_sessions;
