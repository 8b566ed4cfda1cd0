package postgres

import (
	"context"
	"fmt"
	"iter"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/parleychat/parley/internal/chat"
)

// ImportCounts are how many rows Import copied into each table.
type ImportCounts struct {
	Users, Conversations, Members, Messages, Sessions, UserSessions, Invitations, Attachments int64
}

// importTables returns the tables Import fills, in the order it fills
// them (each one's foreign keys point at tables before it).
func importTables() []string {
	return []string{"users", "conversations", "members", "messages", "sessions", "user_sessions", "invitations", "attachments"}
}

// Importer is an empty PostgreSQL database opened to take a whole copy
// (see Import).
type Importer struct {
	s *Store
	// Database and Host name where the copy goes, for the operator.
	Database, Host string
}

// OpenImport opens the PostgreSQL database at dsn, applies pending
// migrations as Open does, and checks that it holds no row, so that a
// copy can be refused before its source is read. Close the Importer.
func OpenImport(ctx context.Context, dsn string) (*Importer, error) {
	s, err := open(ctx, dsn, nil)
	if err != nil {
		return nil, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return checkEmpty(ctx, tx) })
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("postgres: import: %w", err)
	}
	cc := s.pool.Config().ConnConfig
	return &Importer{s: s, Database: cc.Database, Host: fmt.Sprintf("%s:%d", cc.Host, cc.Port)}, nil
}

// Close closes the database.
func (im *Importer) Close() { im.s.Close() }

// Import copies src into the empty PostgreSQL database at dsn: OpenImport,
// then Importer.Import.
func Import(ctx context.Context, dsn string, src chat.Dump) (ImportCounts, error) {
	im, err := OpenImport(ctx, dsn)
	if err != nil {
		return ImportCounts{}, err
	}
	defer im.Close()
	return im.Import(ctx, src)
}

// Import copies src into the database, keeping
// every ID, seq, version and time, so that a server started on it carries
// on where the source's stopped: people sign in with the same passwords,
// and sessions stay signed in.
//
// It copies in one transaction, which holds an exclusive lock on the tables throughout
// (nodes started meanwhile wait to write): each table with COPY, the
// search index built as the store builds it (the words of every live
// text message, as searchtext cuts them), then the identity and position
// sequences moved past the copied values, so that new rows follow them.
// A database where any of the tables has a row is refused, with nothing
// changed (it is checked again under the lock). An error leaves the
// database as it was, migrations aside.
func (im *Importer) Import(ctx context.Context, src chat.Dump) (ImportCounts, error) {
	var n ImportCounts
	s := im.s
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `LOCK TABLE `+strings.Join(importTables(), ", ")+` IN EXCLUSIVE MODE`); err != nil {
			return fmt.Errorf("lock tables: %w", err)
		}
		if err := checkEmpty(ctx, tx); err != nil {
			return err
		}
		return importRows(ctx, tx, src, &n)
	})
	if err != nil {
		return ImportCounts{}, fmt.Errorf("postgres: import: %w", err)
	}
	// Statistics for the planner, which weighs a search's words against
	// them: after a bulk load there are none until autovacuum comes by.
	if _, err := s.pool.Exec(ctx, `ANALYZE `+strings.Join(importTables(), ", ")); err != nil {
		return n, fmt.Errorf("postgres: import: analyze: %w", err)
	}
	return n, nil
}

// checkEmpty returns an error naming the tables that hold rows, if any do.
func checkEmpty(ctx context.Context, tx pgx.Tx) error {
	var full []string
	for _, table := range importTables() {
		var held bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM `+table+`)`).Scan(&held); err != nil {
			return fmt.Errorf("check %s is empty: %w", table, err)
		}
		if held {
			full = append(full, table)
		}
	}
	if len(full) > 0 {
		return fmt.Errorf("the database is not empty (%s hold rows): import only into a new database", strings.Join(full, ", "))
	}
	return nil
}

// importRows copies every table of src in tx, counting the rows into n.
func importRows(ctx context.Context, tx pgx.Tx, src chat.Dump, n *ImportCounts) error {
	var err error
	if n.Users, err = copyRows(ctx, tx, "users", src.Users(ctx),
		[]string{"id", "username", "display_name", "search_name", "password_hash", "created_at", "closed_at", "is_admin", "deactivated_at"},
		func(u chat.StoredUser) ([]any, error) {
			return []any{int64(u.ID), u.Username, u.DisplayName, u.SearchName, u.PasswordHash, u.CreatedAt, nullTime(u.ClosedAt),
				u.Admin, nullTime(u.DeactivatedAt)}, nil
		}); err != nil {
		return err
	}
	if n.Conversations, err = copyRows(ctx, tx, "conversations", src.Conversations(ctx),
		[]string{"id", "kind", "title", "direct_key", "last_seq", "last_version", "last_message_at", "created_at", "member_count"},
		func(c chat.StoredConversation) ([]any, error) {
			return []any{int64(c.ID), string(c.Kind), c.Title, nullString(c.DirectKey), c.LastSeq, c.LastVersion,
				nullTime(c.LastMessageAt), c.CreatedAt, int32(c.MemberCount)}, nil
		}); err != nil {
		return err
	}
	if n.Members, err = copyRows(ctx, tx, "members", src.Members(ctx),
		[]string{"conversation_id", "user_id", "role", "last_read_seq", "joined_at"},
		func(m chat.Member) ([]any, error) {
			return []any{int64(m.ConversationID), int64(m.UserID), string(m.Role), m.LastReadSeq, m.JoinedAt}, nil
		}); err != nil {
		return err
	}
	// A message without a position takes a negative one here, unique
	// and never a real one's, until every real one is known.
	var unplaced int64
	if n.Messages, err = copyRows(ctx, tx, "messages", src.Messages(ctx),
		[]string{"conversation_id", "seq", "version", "sender_id", "body", "client_id", "created_at", "kind",
			"action", "target_id", "title", "edited_at", "deleted_at", "search", "position", "attachments"},
		func(m chat.StoredMessage) ([]any, error) {
			position := m.Position
			if position <= 0 {
				unplaced++
				position = -unplaced
			}
			kind, action, target, title, search := string(chat.MessageText), any(nil), any(nil), any(nil), any(nil)
			if m.Kind == chat.MessageSystem && m.System != nil {
				kind, action, title = string(chat.MessageSystem), string(m.System.Action), nullString(m.System.Title)
				if m.System.UserID != 0 {
					target = int64(m.System.UserID)
				}
			} else if m.DeletedAt.IsZero() {
				v, err := importVector(m.Body)
				if err != nil {
					return nil, fmt.Errorf("message %d/%d: %w", m.ConversationID, m.Seq, err)
				}
				search = v
			}
			attachments, err := encodeAttachments(m.Attachments)
			if err != nil {
				return nil, fmt.Errorf("message %d/%d: %w", m.ConversationID, m.Seq, err)
			}
			return []any{int64(m.ConversationID), m.Seq, m.Version, int64(m.SenderID), m.Body, nullString(m.ClientID),
				m.CreatedAt, kind, action, target, title, nullTime(m.EditedAt), nullTime(m.DeletedAt), search, position,
				attachments}, nil
		}); err != nil {
		return err
	}
	if unplaced > 0 {
		if _, err := tx.Exec(ctx, `
			UPDATE messages SET position = (SELECT coalesce(max(position), 0) FROM messages) - position
			WHERE position < 0`); err != nil {
			return fmt.Errorf("place messages: %w", err)
		}
	}
	if n.Sessions, err = copyRows(ctx, tx, "sessions", src.Sessions(ctx),
		[]string{"token", "data", "expiry"},
		func(s chat.StoredSession) ([]any, error) { return []any{s.Token, s.Data, s.Expiry}, nil }); err != nil {
		return err
	}
	if n.UserSessions, err = copyRows(ctx, tx, "user_sessions", src.UserSessions(ctx),
		[]string{"token", "user_id", "deadline", "ended"},
		func(s chat.StoredUserSession) ([]any, error) {
			return []any{s.Token, int64(s.UserID), s.Deadline, s.Ended}, nil
		}); err != nil {
		return err
	}
	if n.Invitations, err = copyRows(ctx, tx, "invitations", src.Invitations(ctx),
		[]string{"id", "token_hash", "created_by", "created_at", "expires_at", "max_uses", "uses", "revoked_at"},
		func(inv chat.Invitation) ([]any, error) {
			var createdBy any // an operator's, from the command line
			if inv.CreatedBy != 0 {
				createdBy = int64(inv.CreatedBy)
			}
			return []any{int64(inv.ID), inv.TokenHash, createdBy, inv.CreatedAt, inv.ExpiresAt, int32(inv.MaxUses),
				int32(inv.Uses), nullTime(inv.RevokedAt)}, nil
		}); err != nil {
		return err
	}
	if n.Attachments, err = copyRows(ctx, tx, "attachments", src.Attachments(ctx),
		[]string{"id", "conversation_id", "uploader_id", "name", "content_type", "size", "sha256", "blob", "width", "height",
			"thumbnail", "thumbnail_type", "thumbnail_width", "thumbnail_height", "created_at", "seq", "deleted_at"},
		func(a chat.StoredAttachment) ([]any, error) {
			var seq any // pending
			if a.Seq != 0 {
				seq = a.Seq
			}
			return []any{int64(a.ID), int64(a.ConversationID), int64(a.UploaderID), a.Name, a.ContentType, a.Size, a.SHA256,
				a.Blob, int32(a.Width), int32(a.Height), nullString(a.Thumbnail), nullString(a.ThumbnailType),
				int32(a.ThumbnailWidth), int32(a.ThumbnailHeight), a.CreatedAt, seq, nullTime(a.DeletedAt)}, nil
		}); err != nil {
		return err
	}
	// Each sequence's next value is one past the highest copied (1 when
	// none was).
	for _, stmt := range []string{
		`SELECT setval(pg_get_serial_sequence('users', 'id'), coalesce(max(id), 0) + 1, false) FROM users`,
		`SELECT setval(pg_get_serial_sequence('conversations', 'id'), coalesce(max(id), 0) + 1, false) FROM conversations`,
		`SELECT setval(pg_get_serial_sequence('invitations', 'id'), coalesce(max(id), 0) + 1, false) FROM invitations`,
		`SELECT setval(pg_get_serial_sequence('attachments', 'id'), coalesce(max(id), 0) + 1, false) FROM attachments`,
		`SELECT setval('messages_position_seq', coalesce(max(position), 0) + 1, false) FROM messages`,
	} {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("move sequences: %w", err)
		}
	}
	return nil
}

// copyRows copies rows into table with COPY, each row's values for
// columns given by values, and returns how many it copied.
func copyRows[T any](ctx context.Context, tx pgx.Tx, table string, rows iter.Seq2[T, error], columns []string, values func(T) ([]any, error)) (int64, error) {
	next, stop := iter.Pull2(rows)
	defer stop()
	n, err := tx.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromFunc(func() ([]any, error) {
		row, err, ok := next()
		if !ok {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return values(row)
	}))
	if err != nil {
		return 0, fmt.Errorf("copy %s: %w", table, err)
	}
	return n, nil
}

// importVector returns the search column of a live text message with
// body, as the store writes it (see searchVector), or nil when it has no
// words. COPY sends it in binary, so it is parsed here rather than cast
// by the server.
func importVector(body string) (any, error) {
	text := searchVector(body)
	if text == nil {
		return nil, nil
	}
	var v pgtype.TSVector
	if err := v.Scan(*text); err != nil {
		return nil, fmt.Errorf("search words: %w", err)
	}
	return v, nil
}

// nullTime is t, or NULL when it is zero.
func nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}
