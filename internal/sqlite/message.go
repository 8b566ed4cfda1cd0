package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// CreateMessage stores one message: CreateMessages with a batch of one.
func (s *Store) CreateMessage(ctx context.Context, m chat.Message) (chat.Stored, error) {
	return chat.CreateOne(ctx, s, m)
}

// CreateMessages stores a batch of messages in one transaction (one fsync)
// with set-based statements: one read of the batch's conversations, one of
// their members, one look-up of the batch's client IDs, one read of the
// attachments it names (when it names any), multi-row inserts of the
// messages and of their words in the search index, one counter update per
// conversation, one read-cursor update per sender and one update per
// attachment sent. The seqs,
// versions, times and search positions are worked out here, between the
// reads and the writes: the write connection is the only writer, so
// nothing changes under it.
func (s *Store) CreateMessages(ctx context.Context, ms []chat.Message) ([]chat.SendResult, error) {
	rs := make([]chat.SendResult, len(ms))
	if len(ms) == 0 {
		return rs, nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		b := sendBatch{store: s, tx: tx, results: rs}
		return b.write(ctx, ms)
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// sendBatch is one CreateMessages transaction under way.
type sendBatch struct {
	store   *Store
	tx      *sql.Tx
	results []chat.SendResult

	convs   map[chat.ConversationID]*convState
	sent    map[clientKey]chat.Message // messages with a client ID, stored before or in this batch
	rows    []any                      // insertMessages' arguments, messageRowCols per message
	cursors map[cursorKey]int64        // each sender's new read cursor
	index   indexEntries

	// uploads are the rows of the attachments the batch's messages name,
	// by ID; claims are those the batch's stored messages carry, with
	// their messages' seqs.
	uploads map[chat.AttachmentID]upload
	claims  map[chat.AttachmentID]int64
}

// upload is an attachment's row as a send batch reads it.
type upload struct {
	chat.Attachment
	deleted bool
}

// convState is a conversation's counters as the batch moves them, and its
// members (ascending: the recipients, and who may send).
type convState struct {
	lastSeq, lastVersion, lastAt int64
	members                      []chat.UserID
	moved                        bool
}

type clientKey struct {
	sender   chat.UserID
	clientID string
}

type cursorKey struct {
	conv chat.ConversationID
	user chat.UserID
}

// messageRowCols is the number of arguments of one row of the messages
// insert.
const messageRowCols = 9

func (b *sendBatch) write(ctx context.Context, ms []chat.Message) error {
	if err := b.readConversations(ctx, ms); err != nil {
		return err
	}
	if err := b.readClientIDs(ctx, ms); err != nil {
		return err
	}
	if err := b.readUploads(ctx, ms); err != nil {
		return err
	}
	// The write connection is the only one to give out positions: the
	// batch's messages take the ones after the newest.
	var position int64
	rows, err := b.query(ctx, lastPositionQuery)
	if err != nil {
		return fmt.Errorf("last position: %w", err)
	}
	for rows.Next() {
		if err := rows.Scan(&position); err != nil {
			_ = rows.Close() // the scan's error is the one to report
			return fmt.Errorf("last position: %w", err)
		}
	}
	if err := closeRows(rows); err != nil {
		return fmt.Errorf("last position: %w", err)
	}
	b.cursors = make(map[cursorKey]int64)
	for i, m := range ms {
		key := clientKey{m.SenderID, m.ClientID}
		if first, ok := b.sent[key]; ok && m.ClientID != "" {
			if first.ConversationID != m.ConversationID {
				b.results[i].Err = chat.Errorf(chat.ECONFLICT, "client_id %q was used for another conversation", m.ClientID)
			} else {
				b.results[i].Stored = chat.Stored{Message: first}
			}
			continue
		}
		c := b.convs[m.ConversationID]
		if c == nil {
			b.results[i].Err = chat.NotFound("conversation")
			continue
		}
		if _, member := slices.BinarySearch(c.members, m.SenderID); !member {
			b.results[i].Err = chat.NotFound("conversation")
			continue
		}
		carried, err := b.claim(m)
		if err != nil {
			b.results[i].Err = err
			continue
		}
		// Message times never go backwards along seq, even when the
		// clock stamped a later send first.
		c.lastSeq++
		c.lastVersion++
		c.lastAt = max(c.lastAt, micros(m.CreatedAt))
		c.moved = true
		m.Seq, m.Version, m.CreatedAt = c.lastSeq, c.lastVersion, fromMicros(c.lastAt)
		m.Kind, m.System = chat.MessageText, nil
		for j := range carried {
			carried[j].Seq = m.Seq
			b.claims[carried[j].ID] = m.Seq
		}
		m.Attachments = carried
		attachments, err := encodeAttachments(carried)
		if err != nil {
			return err
		}
		position++
		b.rows = append(b.rows, int64(m.ConversationID), m.Seq, m.Version, int64(m.SenderID), m.Body,
			nullString(m.ClientID), c.lastAt, position, attachments)
		b.index.add(position, m.Body)
		b.cursors[cursorKey{m.ConversationID, m.SenderID}] = m.Seq
		if m.ClientID != "" {
			b.sent[key] = m
		}
		b.results[i].Stored = chat.Stored{Message: m, Changed: true, Recipients: c.members}
	}
	return b.writeRows(ctx)
}

// maxChunk is the most values one statement of a batch takes in a list
// (conversations, client IDs, message rows); a longer list takes several.
// Statements are prepared at open for lists of every power of two up to
// it (see sendQueries).
const maxChunk = 256

// chunks calls fn with successive pieces of list, groups of width values,
// each of at most maxChunk groups, padded to a power of two groups by
// repeating its first group (a repeat matches what the first does, again:
// the readers keep rows in maps), so that a few
// prepared statements serve every list. fn gets the piece's group count.
func chunks(list []any, width int, fn func(n int, piece []any) error) error {
	for len(list) > 0 {
		n := min(len(list)/width, maxChunk)
		piece := slices.Clone(list[:n*width])
		list = list[n*width:]
		p := 1 << bits.Len(uint(n-1))
		for range p - n {
			piece = append(piece, piece[:width]...)
		}
		if err := fn(p, piece); err != nil {
			return err
		}
	}
	return nil
}

// The statements of a send batch, for lists of n values.
func conversationsQuery(n int) string {
	return `SELECT id, last_seq, last_version, coalesce(last_message_at, 0)
		FROM conversations WHERE id IN (` + placeholders(n, 1) + `)`
}

func membersQuery(n int) string {
	return `SELECT conversation_id, user_id FROM members
		WHERE conversation_id IN (` + placeholders(n, 1) + `) ORDER BY conversation_id, user_id`
}

func clientIDsQuery(n int) string {
	return `SELECT ` + prefixed("m.", messageCols) + `
		FROM (VALUES ` + placeholders(n, 2) + `) AS v
		JOIN messages m ON m.sender_id = v.column1 AND m.client_id = v.column2`
}

func insertMessagesQuery(n int) string {
	return `INSERT INTO messages (conversation_id, seq, version, sender_id, body, client_id, created_at, position, attachments)
		VALUES ` + placeholders(n, messageRowCols)
}

const (
	lastPositionQuery = `SELECT coalesce(max(position), 0) FROM messages`
	moveCountersQuery = `UPDATE conversations SET last_seq = ?, last_version = ?, last_message_at = ? WHERE id = ?`
	moveCursorQuery   = `UPDATE members SET last_read_seq = max(last_read_seq, ?) WHERE conversation_id = ? AND user_id = ?`

	claimAttachmentQuery = `UPDATE attachments SET seq = ? WHERE id = ?`
	uploadsQuery         = `SELECT ` + attachmentCols + `, deleted_at IS NOT NULL FROM attachments
		WHERE id IN (SELECT value FROM json_each(?))`
)

// sendQueries are every statement a send batch may run, prepared at open.
func sendQueries() []string {
	qs := []string{lastPositionQuery, moveCountersQuery, moveCursorQuery, indexQuery, claimAttachmentQuery, uploadsQuery}
	for n := 1; n <= maxChunk; n *= 2 {
		qs = append(qs, conversationsQuery(n), membersQuery(n), clientIDsQuery(n), insertMessagesQuery(n))
	}
	return qs
}

// readConversations reads the counters and members of the batch's
// conversations, in two statements.
func (b *sendBatch) readConversations(ctx context.Context, ms []chat.Message) error {
	b.convs = make(map[chat.ConversationID]*convState)
	var ids []any
	for _, m := range ms {
		if _, ok := b.convs[m.ConversationID]; !ok {
			b.convs[m.ConversationID] = nil
			ids = append(ids, int64(m.ConversationID))
		}
	}
	err := chunks(ids, 1, func(n int, piece []any) error {
		rows, err := b.query(ctx, conversationsQuery(n), piece...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				id int64
				c  convState
			)
			if err := rows.Scan(&id, &c.lastSeq, &c.lastVersion, &c.lastAt); err != nil {
				_ = rows.Close() // the scan's error is the one to report
				return err
			}
			b.convs[chat.ConversationID(id)] = &c
		}
		return closeRows(rows)
	})
	if err != nil {
		return fmt.Errorf("read conversations: %w", err)
	}
	err = chunks(ids, 1, func(n int, piece []any) error {
		rows, err := b.query(ctx, membersQuery(n), piece...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var conv, user int64
			if err := rows.Scan(&conv, &user); err != nil {
				_ = rows.Close() // the scan's error is the one to report
				return err
			}
			if c := b.convs[chat.ConversationID(conv)]; c != nil {
				c.members = append(c.members, chat.UserID(user))
			}
		}
		return closeRows(rows)
	})
	if err != nil {
		return fmt.Errorf("read members: %w", err)
	}
	for id, c := range b.convs {
		if c == nil {
			delete(b.convs, id)
		}
	}
	return nil
}

// readClientIDs finds, in one statement, the messages sent before with the
// batch's client IDs.
func (b *sendBatch) readClientIDs(ctx context.Context, ms []chat.Message) error {
	b.sent = make(map[clientKey]chat.Message)
	var args []any
	for _, m := range ms {
		if m.ClientID != "" {
			args = append(args, int64(m.SenderID), m.ClientID)
		}
	}
	err := chunks(args, 2, func(n int, piece []any) error {
		rows, err := b.query(ctx, clientIDsQuery(n), piece...)
		if err != nil {
			return err
		}
		for rows.Next() {
			m, err := scanMessage(rows)
			if err != nil {
				_ = rows.Close() // the scan's error is the one to report
				return err
			}
			b.sent[clientKey{m.SenderID, m.ClientID}] = m
		}
		return closeRows(rows)
	})
	if err != nil {
		return fmt.Errorf("select by client_id: %w", err)
	}
	return nil
}

// readUploads reads, in one statement, the rows of the attachments the
// batch's messages name; a batch that names none reads nothing.
func (b *sendBatch) readUploads(ctx context.Context, ms []chat.Message) error {
	b.uploads = make(map[chat.AttachmentID]upload)
	b.claims = make(map[chat.AttachmentID]int64)
	var ids []chat.AttachmentID
	for _, m := range ms {
		for _, a := range m.Attachments {
			ids = append(ids, a.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	arg, err := json.Marshal(ids)
	if err != nil {
		return fmt.Errorf("read attachments: %w", err)
	}
	rows, err := b.query(ctx, uploadsQuery, string(arg))
	if err != nil {
		return fmt.Errorf("read attachments: %w", err)
	}
	for rows.Next() {
		var u upload
		u.Attachment, err = scanAttachment(appendedScanner{rows, []any{&u.deleted}})
		if err != nil {
			_ = rows.Close() // the scan's error is the one to report
			return fmt.Errorf("read attachments: %w", err)
		}
		b.uploads[u.ID] = u
	}
	if err := closeRows(rows); err != nil {
		return fmt.Errorf("read attachments: %w", err)
	}
	return nil
}

// claim returns the attachments m names, whole, in its order, when each
// is its sender's pending upload to its conversation that no earlier
// message of the batch carries; else the error that refuses m, which then
// claims none.
func (b *sendBatch) claim(m chat.Message) ([]chat.Attachment, error) {
	if len(m.Attachments) == 0 {
		return nil, nil
	}
	carried := make([]chat.Attachment, len(m.Attachments))
	for i, ref := range m.Attachments {
		u, ok := b.uploads[ref.ID]
		_, claimed := b.claims[ref.ID]
		if !ok || u.deleted || u.Seq != 0 || claimed || u.UploaderID != m.SenderID ||
			u.ConversationID != m.ConversationID || slices.ContainsFunc(carried[:i], func(a chat.Attachment) bool { return a.ID == ref.ID }) {
			return nil, errUnsendable(ref.ID)
		}
		carried[i] = u.Attachment
	}
	return carried, nil
}

// errUnsendable refuses a message naming attachment id, saying nothing of
// whose or where it is.
func errUnsendable(id chat.AttachmentID) error {
	return chat.Errorf(chat.EINVALID, "attachment %d cannot be sent: it is not an upload of yours to this conversation waiting to be sent", id)
}

// writeRows inserts the batch's messages and their words and moves the
// counters and read cursors.
func (b *sendBatch) writeRows(ctx context.Context) error {
	// Multi-row inserts of a power of two rows each (at most maxChunk),
	// so that a few prepared statements serve every batch size.
	for rows := b.rows; len(rows) > 0; {
		n := min(1<<(bits.Len(uint(len(rows)/messageRowCols))-1), maxChunk)
		chunk := rows[:n*messageRowCols]
		rows = rows[n*messageRowCols:]
		if err := b.exec(ctx, insertMessagesQuery(n), chunk...); err != nil {
			return fmt.Errorf("insert messages: %w", err)
		}
	}
	for id, c := range b.convs {
		if !c.moved {
			continue
		}
		if err := b.exec(ctx, moveCountersQuery, c.lastSeq, c.lastVersion, c.lastAt, int64(id)); err != nil {
			return fmt.Errorf("move last_seq: %w", err)
		}
	}
	for k, seq := range b.cursors {
		if err := b.exec(ctx, moveCursorQuery, seq, int64(k.conv), int64(k.user)); err != nil {
			return fmt.Errorf("move read cursor: %w", err)
		}
	}
	for id, seq := range b.claims {
		if err := b.exec(ctx, claimAttachmentQuery, seq, int64(id)); err != nil {
			return fmt.Errorf("claim attachment: %w", err)
		}
	}
	if len(b.index) == 0 {
		return nil
	}
	arg, err := json.Marshal(b.index)
	if err != nil {
		return fmt.Errorf("index words: %w", err)
	}
	if err := b.exec(ctx, indexQuery, arg); err != nil {
		return fmt.Errorf("index words: %w", err)
	}
	return nil
}

// query runs query in the batch's transaction, with the statement
// prepared at open (see sendQueries).
func (b *sendBatch) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if stmt := b.store.writeStmts.lookup(query); stmt != nil {
		return b.tx.StmtContext(ctx, stmt).QueryContext(ctx, args...)
	}
	return b.tx.QueryContext(ctx, query, args...)
}

// exec is query for a statement that returns no rows.
func (b *sendBatch) exec(ctx context.Context, query string, args ...any) error {
	var err error
	if stmt := b.store.writeStmts.lookup(query); stmt != nil {
		_, err = b.tx.StmtContext(ctx, stmt).ExecContext(ctx, args...)
	} else {
		_, err = b.tx.ExecContext(ctx, query, args...)
	}
	return err
}

// closeRows closes rows and reports what went wrong while reading them.
func closeRows(rows *sql.Rows) error {
	if err := rows.Err(); err != nil {
		_ = rows.Close() // the read's error is the one to report
		return err
	}
	return rows.Close()
}

// placeholders returns n parenthesized groups of width question marks,
// comma-separated ("(?, ?), (?, ?)" for n 2, width 2); a group of width 1
// is a bare "?".
func placeholders(n, width int) string {
	group := "(" + strings.Repeat("?, ", width-1) + "?)"
	if width == 1 {
		group = "?"
	}
	return strings.Repeat(group+", ", n-1) + group
}

// prefixed returns the comma-separated columns cols, each with prefix.
func prefixed(prefix, cols string) string {
	parts := strings.Split(cols, ", ")
	for i, c := range parts {
		parts[i] = prefix + c
	}
	return strings.Join(parts, ", ")
}

// MessageByClientID returns the message sender sent with clientID, or
// ENOTFOUND. It reads through the read pool: a send in a batch under way
// is not seen, and CreateMessages answers it instead.
func (s *Store) MessageByClientID(ctx context.Context, sender chat.UserID, clientID string) (chat.Message, error) {
	m, err := scanMessage(s.byClientIDStmt.QueryRowContext(ctx, int64(sender), clientID))
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
const messageCols = `conversation_id, seq, sender_id, body, client_id, created_at, kind, action, target_id, title, version, edited_at, deleted_at, attachments`

func scanMessage(r scanner) (chat.Message, error) {
	var (
		m             chat.Message
		clientID      sql.NullString
		created       int64
		kind          string
		action, title sql.NullString
		target        sql.NullInt64
		edited, gone  sql.NullInt64
		attachments   sql.NullString
	)
	if err := r.Scan(&m.ConversationID, &m.Seq, &m.SenderID, &m.Body, &clientID, &created, &kind, &action, &target, &title,
		&m.Version, &edited, &gone, &attachments); err != nil {
		return chat.Message{}, err
	}
	m.EditedAt, m.DeletedAt = nullMicros(edited), nullMicros(gone)
	m.ClientID = clientID.String
	m.CreatedAt = fromMicros(created)
	m.Kind, m.System = messageKind(kind, int64(m.SenderID), action, target, title)
	return m, decodeAttachments(&m, attachments)
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
