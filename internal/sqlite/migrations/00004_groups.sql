-- +goose Up
-- Groups: member counts, roles and system messages.

-- How many members a conversation has, kept by every membership change in
-- the transaction that makes it: the member list shows it without a count,
-- and a group's cap is checked against it.
ALTER TABLE conversations ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
UPDATE conversations SET member_count = (SELECT count(*) FROM members WHERE conversation_id = conversations.id);

-- A group's admins add and remove members, rename it and change roles.
-- Members of a direct conversation are all 'member'.
ALTER TABLE members ADD COLUMN role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member'));

-- A 'system' message records a change to a group: sender_id made it,
-- action says what, target_id is the member added, removed or gone, title
-- the new title. Its body is empty and it has no client_id.
ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text' CHECK (kind IN ('text', 'system'));
ALTER TABLE messages ADD COLUMN action TEXT CHECK (action IN ('added', 'removed', 'left', 'title'));
ALTER TABLE messages ADD COLUMN target_id INTEGER;
ALTER TABLE messages ADD COLUMN title TEXT;

-- +goose Down
ALTER TABLE messages DROP COLUMN title;
ALTER TABLE messages DROP COLUMN target_id;
ALTER TABLE messages DROP COLUMN action;
ALTER TABLE messages DROP COLUMN kind;
ALTER TABLE members DROP COLUMN role;
ALTER TABLE conversations DROP COLUMN member_count;
