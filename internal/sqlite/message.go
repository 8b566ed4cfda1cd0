package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// send is one CreateMessage waiting for the writer.
type send struct {
	m    chat.Message
	done chan sendResult // buffered: the writer never waits for the sender
}

type sendResult struct {
	stored chat.Stored
	err    error
}

// maxBatch bounds how many sends one transaction commits.
const maxBatch = 256

// CreateMessage stores a message: in one transaction it assigns the seq,
// the version and the search position, inserts the message and its words
// in the search index, moves the conversation's last_seq, last_version
// and the sender's read cursor, and reads the conversation's members (the
// recipients); it returns only after that transaction commits. With group commit (the default) Run's writer commits the sends
// that arrive together in one transaction — one fsync for many — so Run
// must be running; otherwise each send commits alone.
func (s *Store) CreateMessage(ctx context.Context, m chat.Message) (chat.Stored, error) {
	req := send{m: m, done: make(chan sendResult, 1)}
	if !s.groupCommit {
		s.commit(ctx, []send{req})
		r := <-req.done
		return r.stored, r.err
	}
	select {
	case s.sends <- req:
	case <-s.stopped:
		return chat.Stored{}, errors.New("sqlite: store is shutting down")
	case <-ctx.Done():
		return chat.Stored{}, ctx.Err()
	}
	select {
	case r := <-req.done:
		return r.stored, r.err
	case <-ctx.Done():
		// It may still commit; a retry with its client_id finds it.
		return chat.Stored{}, ctx.Err()
	}
}

// Run is the group-commit writer: it takes the sends waiting (up to
// maxBatch), commits them in one transaction, answers each, and repeats,
// until ctx ends. Sends arriving while a batch commits form the next one,
// so batches grow with the load and a lone send waits for no one.
func (s *Store) Run(ctx context.Context) {
	defer close(s.stopped)
	batch := make([]send, 0, maxBatch)
	for {
		select {
		case <-ctx.Done():
			return
		case req := <-s.sends:
			batch = append(batch[:0], req)
		}
	gather:
		for len(batch) < maxBatch {
			select {
			case req := <-s.sends:
				batch = append(batch, req)
			default:
				break gather
			}
		}
		// The batch is committed even while shutting down: its senders
		// are waiting for the answer.
		s.commit(context.WithoutCancel(ctx), batch)
		clear(batch)
	}
}

// commit stores a batch of sends in one transaction and answers each. A
// send refused by the rules (not a member, a client_id of another
// conversation) changes nothing and does not spoil the others; any other
// failure fails the whole batch, which its senders may retry.
func (s *Store) commit(ctx context.Context, batch []send) {
	results := make([]sendResult, len(batch))
	err := s.commitTx(ctx, batch, results)
	for i, req := range batch {
		if err != nil {
			results[i] = sendResult{err: err}
		}
		req.done <- results[i]
	}
}

func (s *Store) commitTx(ctx context.Context, batch []send, results []sendResult) error {
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit a no-op; on failure the first error is the one returned
	stmts, err := prepareSend(ctx, tx)
	if err != nil {
		return err
	}
	defer stmts.close()
	// The writer is the only one to give out positions: the batch's
	// messages take the ones after the newest.
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(position), 0) FROM messages`).Scan(&stmts.position); err != nil {
		return fmt.Errorf("last position: %w", err)
	}
	for i, req := range batch {
		st, err := stmts.store(ctx, req.m)
		if err != nil && chat.ErrorCode(err) == chat.EINTERNAL {
			return err
		}
		results[i] = sendResult{stored: st, err: err}
	}
	if err := stmts.index.insert(ctx, tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// sendStmts are the statements of a send, prepared once per batch, and
// what the batch's messages add to the search index, which one statement
// inserts at the end.
type sendStmts struct {
	byClientID, nextSeq, insertMessage, moveCursor, members *sql.Stmt

	position int64 // the last one given out
	index    indexEntries
	// recipients holds the members of each conversation the batch sent
	// to, read once per batch: only sends are in it, and they do not
	// change who is a member. The batch's results share the slices.
	recipients map[chat.ConversationID][]chat.UserID
}

func prepareSend(ctx context.Context, tx *sql.Tx) (*sendStmts, error) {
	var st sendStmts
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&st.byClientID, `
			SELECT ` + messageCols + `
			FROM messages WHERE sender_id = ? AND client_id = ?`},
		// Only a member moves the sequence: the membership test and the
		// increment are one statement. Message times never go backwards
		// along seq, even when the clock stamped a later send first.
		{&st.nextSeq, `
			UPDATE conversations SET last_seq = last_seq + 1, last_version = last_version + 1,
			       last_message_at = max(coalesce(last_message_at, 0), ?1)
			WHERE id = ?2 AND EXISTS (SELECT 1 FROM members WHERE conversation_id = ?2 AND user_id = ?3)
			RETURNING last_seq, last_version, last_message_at`},
		{&st.insertMessage, `
			INSERT INTO messages (conversation_id, seq, version, sender_id, body, client_id, created_at, position)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`},
		{&st.moveCursor, `
			UPDATE members SET last_read_seq = ? WHERE conversation_id = ? AND user_id = ?`},
		{&st.members, `
			SELECT user_id FROM members WHERE conversation_id = ? ORDER BY user_id`},
	} {
		stmt, err := tx.PrepareContext(ctx, p.query)
		if err != nil {
			st.close()
			return nil, fmt.Errorf("prepare: %w", err)
		}
		*p.stmt = stmt
	}
	return &st, nil
}

func (st *sendStmts) close() {
	for _, stmt := range []*sql.Stmt{st.byClientID, st.nextSeq, st.insertMessage, st.moveCursor, st.members} {
		if stmt != nil {
			_ = stmt.Close() // the transaction's end frees it in any case
		}
	}
}

// store stores one message inside the batch's transaction and returns
// it with its recipients. A send whose client_id the sender already used
// (earlier, or earlier in this very batch) returns the first message and
// stores nothing.
func (st *sendStmts) store(ctx context.Context, m chat.Message) (chat.Stored, error) {
	if m.ClientID != "" {
		first, err := scanMessage(st.byClientID.QueryRowContext(ctx, int64(m.SenderID), m.ClientID))
		switch {
		case err == nil && first.ConversationID != m.ConversationID:
			return chat.Stored{}, chat.Errorf(chat.ECONFLICT, "client_id %q was used for another conversation", m.ClientID)
		case err == nil:
			return chat.Stored{Message: first}, nil
		case !errors.Is(err, sql.ErrNoRows):
			return chat.Stored{}, fmt.Errorf("select by client_id: %w", err)
		}
	}
	var at int64
	err := st.nextSeq.QueryRowContext(ctx, micros(m.CreatedAt), int64(m.ConversationID), int64(m.SenderID)).Scan(&m.Seq, &m.Version, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Stored{}, chat.NotFound("conversation")
	}
	if err != nil {
		return chat.Stored{}, fmt.Errorf("next seq: %w", err)
	}
	m.CreatedAt = fromMicros(at)
	m.Kind, m.System = chat.MessageText, nil
	position := st.position + 1
	if _, err := st.insertMessage.ExecContext(ctx,
		int64(m.ConversationID), m.Seq, m.Version, int64(m.SenderID), m.Body, nullString(m.ClientID), micros(m.CreatedAt), position); err != nil {
		return chat.Stored{}, fmt.Errorf("insert message: %w", err)
	}
	st.position = position
	st.index.add(position, m.Body)
	if _, err := st.moveCursor.ExecContext(ctx, m.Seq, int64(m.ConversationID), int64(m.SenderID)); err != nil {
		return chat.Stored{}, fmt.Errorf("move read cursor: %w", err)
	}
	to, ok := st.recipients[m.ConversationID]
	if !ok {
		if to, err = userIDs(st.members.QueryContext(ctx, int64(m.ConversationID))); err != nil {
			return chat.Stored{}, fmt.Errorf("recipients: %w", err)
		}
		if st.recipients == nil {
			st.recipients = make(map[chat.ConversationID][]chat.UserID)
		}
		st.recipients[m.ConversationID] = to
	}
	return chat.Stored{Message: m, Changed: true, Recipients: to}, nil
}

// CreateMessages stores each message of the batch as CreateMessage does,
// in order.
func (s *Store) CreateMessages(ctx context.Context, ms []chat.Message) ([]chat.SendResult, error) {
	rs := make([]chat.SendResult, len(ms))
	for i, m := range ms {
		rs[i].Stored, rs[i].Err = s.CreateMessage(ctx, m)
	}
	return rs, nil
}

// MessageByClientID returns the message sender sent with clientID, or
// ENOTFOUND. It reads through the read pool: a send under way in the
// writer's batch is not seen, and CreateMessage answers it instead.
func (s *Store) MessageByClientID(ctx context.Context, sender chat.UserID, clientID string) (chat.Message, error) {
	m, err := scanMessage(s.read.QueryRowContext(ctx, `
		SELECT `+messageCols+`
		FROM messages WHERE sender_id = ? AND client_id = ?`, int64(sender), clientID))
	if errors.Is(err, sql.ErrNoRows) {
		return chat.Message{}, chat.NotFound("message")
	}
	if err != nil {
		return chat.Message{}, fmt.Errorf("select by client_id: %w", err)
	}
	return m, nil
}

// Messages returns a page of history in ascending seq order. Each query
// walks the primary key from the cursor, so the cost is the same at any
// depth.
func (s *Store) Messages(ctx context.Context, id chat.ConversationID, q chat.MessageQuery) ([]chat.Message, error) {
	const cols = `SELECT ` + messageCols + ` FROM messages`
	var (
		rows *sql.Rows
		err  error
	)
	switch {
	case q.After:
		rows, err = s.read.QueryContext(ctx, cols+`
			WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?`, int64(id), q.AfterSeq, q.Limit)
	case q.BeforeSeq > 0:
		rows, err = s.read.QueryContext(ctx, `SELECT * FROM (`+cols+`
			WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`, int64(id), q.BeforeSeq, q.Limit)
	default:
		rows, err = s.read.QueryContext(ctx, `SELECT * FROM (`+cols+`
			WHERE conversation_id = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`, int64(id), q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("select messages: %w", err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports a failed read
	msgs := make([]chat.Message, 0, q.Limit)
	for rows.Next() {
		m, err := scanMessage(rows)
		if err != nil {
			return nil, fmt.Errorf("scan message: %w", err)
		}
		msgs = append(msgs, m)
	}
	return msgs, rows.Err()
}

// MarkRead moves a member's read cursor forward, never back, clamped to the
// conversation's last_seq, and reads the recipients in the same
// transaction when it moved.
func (s *Store) MarkRead(ctx context.Context, id chat.ConversationID, user chat.UserID, seq int64) (chat.ReadMark, error) {
	var r chat.ReadMark
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `
			UPDATE members SET last_read_seq = min(?1, (SELECT last_seq FROM conversations WHERE id = ?2))
			WHERE conversation_id = ?2 AND user_id = ?3
			  AND last_read_seq < min(?1, (SELECT last_seq FROM conversations WHERE id = ?2))
			RETURNING last_read_seq`, seq, int64(id), int64(user)).Scan(&r.Seq)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("mark read: %w", err)
		}
		r.Moved = true
		r.Recipients, err = membersOf(ctx, tx, id)
		return err
	})
	if err != nil || r.Moved {
		return r, err
	}
	// Nothing moved: either the cursor is already there, or not a member.
	m, err := s.Member(ctx, id, user)
	if err != nil {
		return chat.ReadMark{}, err
	}
	return chat.ReadMark{Seq: m.LastReadSeq}, nil
}

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner interface {
	Scan(dest ...any) error
}

// messageCols are the columns scanMessage reads, in its order.
const messageCols = `conversation_id, seq, sender_id, body, client_id, created_at, kind, action, target_id, title, version, edited_at, deleted_at`

func scanMessage(r scanner) (chat.Message, error) {
	var (
		m             chat.Message
		clientID      sql.NullString
		created       int64
		kind          string
		action, title sql.NullString
		target        sql.NullInt64
		edited, gone  sql.NullInt64
	)
	if err := r.Scan(&m.ConversationID, &m.Seq, &m.SenderID, &m.Body, &clientID, &created, &kind, &action, &target, &title,
		&m.Version, &edited, &gone); err != nil {
		return chat.Message{}, err
	}
	m.EditedAt, m.DeletedAt = nullMicros(edited), nullMicros(gone)
	m.ClientID = clientID.String
	m.CreatedAt = fromMicros(created)
	m.Kind, m.System = messageKind(kind, int64(m.SenderID), action, target, title)
	return m, nil
}

// messageKind returns a stored message's kind and, for a system message,
// what it records, from its kind, sender_id, action, target_id and title
// columns.
func messageKind(kind string, sender int64, action sql.NullString, target sql.NullInt64, title sql.NullString) (chat.MessageKind, *chat.SystemEvent) {
	if chat.MessageKind(kind) != chat.MessageSystem {
		return chat.MessageText, nil
	}
	return chat.MessageSystem, &chat.SystemEvent{
		Action:  chat.SystemAction(action.String),
		ActorID: chat.UserID(sender),
		UserID:  chat.UserID(target.Int64),
		Title:   title.String,
	}
}

// nullString stores "" as NULL, so that UNIQUE(sender_id, client_id) binds
// only messages that carry a client ID.
func nullString(s string) sql.NullString {
	return sql.NullString{String: s, Valid: s != ""}
}

// nullMicros reads a nullable microseconds column: NULL is the zero time.
func nullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return fromMicros(v.Int64)
}
