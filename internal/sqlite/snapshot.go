package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"os"

	"github.com/parleychat/parley/internal/chat"
)

var _ chat.Dump = (*Snapshot)(nil)

// Snapshot reads a whole database file as it was at one moment, table by
// table, for copying it into another store (see OpenSnapshot).
type Snapshot struct {
	db *sql.DB
	tx *sql.Tx
}

// OpenSnapshot opens the database file at path for reading it whole. It
// first applies this version's pending migrations, as Open does, so the
// rows have every column this version knows; then it reads through a
// read-only connection in one read transaction, so that every table is
// seen as of the same moment even if a server writes meanwhile (stop it
// first all the same, or what it writes after the snapshot is not
// copied). A path that does not exist is an error that wraps
// fs.ErrNotExist: OpenSnapshot never creates a database. Close the
// snapshot when done.
func OpenSnapshot(ctx context.Context, path string) (*Snapshot, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	s, err := open(ctx, path, nil)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	if err := s.Close(); err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	db, err := openReadOnly(path)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", err)
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err == nil {
		// A read transaction takes its snapshot at its first read.
		var n int64
		err = tx.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	}
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", errors.Join(err, db.Close()))
	}
	return &Snapshot{db: db, tx: tx}, nil
}

// Close ends the read transaction and closes the connection.
func (s *Snapshot) Close() error {
	return errors.Join(s.tx.Rollback(), s.db.Close())
}

// Users returns every account, closed ones included, by ascending ID.
func (s *Snapshot) Users(ctx context.Context) iter.Seq2[chat.StoredUser, error] {
	return snapshotRows(ctx, s.tx, "users", `
		SELECT id, username, display_name, search_name, password_hash, created_at, closed_at, is_admin, deactivated_at
		FROM users ORDER BY id`,
		func(r scanner) (chat.StoredUser, error) {
			var (
				u                   chat.StoredUser
				created             int64
				closed, deactivated sql.NullInt64
			)
			err := r.Scan(&u.ID, &u.Username, &u.DisplayName, &u.SearchName, &u.PasswordHash, &created, &closed, &u.Admin, &deactivated)
			u.CreatedAt, u.ClosedAt, u.Closed = fromMicros(created), nullMicros(closed), closed.Valid
			u.DeactivatedAt, u.Deactivated = nullMicros(deactivated), deactivated.Valid
			return u, err
		})
}

// Conversations returns every conversation by ascending ID.
func (s *Snapshot) Conversations(ctx context.Context) iter.Seq2[chat.StoredConversation, error] {
	return snapshotRows(ctx, s.tx, "conversations", `
		SELECT id, kind, title, direct_key, last_seq, last_version, last_message_at, created_at, member_count
		FROM conversations ORDER BY id`,
		func(r scanner) (chat.StoredConversation, error) {
			var (
				c       chat.StoredConversation
				key     sql.NullString
				last    sql.NullInt64
				created int64
			)
			err := r.Scan(&c.ID, &c.Kind, &c.Title, &key, &c.LastSeq, &c.LastVersion, &last, &created, &c.MemberCount)
			c.DirectKey, c.LastMessageAt, c.CreatedAt = key.String, nullMicros(last), fromMicros(created)
			return c, err
		})
}

// Members returns every membership, by conversation then user.
func (s *Snapshot) Members(ctx context.Context) iter.Seq2[chat.Member, error] {
	return snapshotRows(ctx, s.tx, "members", `
		SELECT conversation_id, user_id, role, last_read_seq, joined_at
		FROM members ORDER BY conversation_id, user_id`,
		func(r scanner) (chat.Member, error) {
			var (
				m      chat.Member
				joined int64
			)
			err := r.Scan(&m.ConversationID, &m.UserID, &m.Role, &m.LastReadSeq, &joined)
			m.JoinedAt = fromMicros(joined)
			return m, err
		})
}

// Messages returns every message, tombstones of deleted ones included, by
// conversation then seq.
func (s *Snapshot) Messages(ctx context.Context) iter.Seq2[chat.StoredMessage, error] {
	return snapshotRows(ctx, s.tx, "messages", `
		SELECT `+messageCols+`, position FROM messages ORDER BY conversation_id, seq`,
		func(r scanner) (chat.StoredMessage, error) {
			var position sql.NullInt64
			m, err := scanMessage(appendedScanner{r, []any{&position}})
			return chat.StoredMessage{Message: m, Position: position.Int64}, err
		})
}

// Sessions returns every stored HTTP session, expired ones included, by
// token.
func (s *Snapshot) Sessions(ctx context.Context) iter.Seq2[chat.StoredSession, error] {
	return snapshotRows(ctx, s.tx, "sessions", `SELECT token, data, expiry FROM sessions ORDER BY token`,
		func(r scanner) (chat.StoredSession, error) {
			var (
				ss     chat.StoredSession
				expiry int64
			)
			err := r.Scan(&ss.Token, &ss.Data, &expiry)
			ss.Expiry = fromMicros(expiry)
			return ss, err
		})
}

// UserSessions returns which user each session belongs to, by token.
func (s *Snapshot) UserSessions(ctx context.Context) iter.Seq2[chat.StoredUserSession, error] {
	return snapshotRows(ctx, s.tx, "user_sessions", `
		SELECT token, user_id, deadline, ended FROM user_sessions ORDER BY token`,
		func(r scanner) (chat.StoredUserSession, error) {
			var (
				us       chat.StoredUserSession
				deadline int64
			)
			err := r.Scan(&us.Token, &us.UserID, &deadline, &us.Ended)
			us.Deadline = fromMicros(deadline)
			return us, err
		})
}

// Invitations yields every invitation, revoked and used-up ones included.
func (s *Snapshot) Invitations(ctx context.Context) iter.Seq2[chat.Invitation, error] {
	return snapshotRows(ctx, s.tx, "invitations", `
		SELECT id, token_hash, coalesce(created_by, 0), created_at, expires_at, max_uses, uses, revoked_at
		FROM invitations ORDER BY id`,
		func(r scanner) (chat.Invitation, error) {
			var (
				inv              chat.Invitation
				created, expires int64
				revoked          sql.NullInt64
			)
			err := r.Scan(&inv.ID, &inv.TokenHash, &inv.CreatedBy, &created, &expires, &inv.MaxUses, &inv.Uses, &revoked)
			inv.CreatedAt, inv.ExpiresAt, inv.RevokedAt = fromMicros(created), fromMicros(expires), nullMicros(revoked)
			return inv, err
		})
}

// Attachments yields every attachment's row, pending, sent and deleted,
// by ascending ID.
func (s *Snapshot) Attachments(ctx context.Context) iter.Seq2[chat.StoredAttachment, error] {
	return snapshotRows(ctx, s.tx, "attachments", `
		SELECT `+attachmentCols+`, deleted_at FROM attachments ORDER BY id`,
		func(r scanner) (chat.StoredAttachment, error) {
			var deleted sql.NullInt64
			a, err := scanAttachment(appendedScanner{r, []any{&deleted}})
			return chat.StoredAttachment{Attachment: a, DeletedAt: nullMicros(deleted)}, err
		})
}

// snapshotRows runs query in tx and yields each row as scan reads it. An
// error is yielded once, last.
func snapshotRows[T any](ctx context.Context, tx *sql.Tx, table, query string, scan func(scanner) (T, error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var zero T
		rows, err := tx.QueryContext(ctx, query)
		if err != nil {
			yield(zero, fmt.Errorf("read %s: %w", table, err))
			return
		}
		defer func() { _ = rows.Close() }() // rows.Err reports a failed read
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				yield(zero, fmt.Errorf("read %s: %w", table, err))
				return
			}
			if !yield(v, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(zero, fmt.Errorf("read %s: %w", table, err))
		}
	}
}

// appendedScanner is a row of the columns a scan function reads (such as
// messageCols) followed by more columns, which go to more.
type appendedScanner struct {
	scanner
	more []any
}

func (r appendedScanner) Scan(dest ...any) error {
	return r.scanner.Scan(append(dest, r.more...)...)
}
