package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
)

// sendBatchAttempts is how many times CreateMessages runs a batch that
// collided with another transaction (a client ID stored concurrently by
// another node, or a deadlock between such inserts): each retry runs
// after the transaction it collided with has ended, and sees its rows.
const sendBatchAttempts = 3

// CreateMessage stores one message: CreateMessages with a batch of one.
func (s *Store) CreateMessage(ctx context.Context, m chat.Message) (chat.Stored, error) {
	return chat.CreateOne(ctx, s, m)
}

// CreateMessages stores a batch of messages in one transaction and one
// round trip: a pipeline of three statements (after genericPlans), which
// PostgreSQL runs as one implicit transaction (all of it commits, or none).
//
//  1. lockConversations locks the batch's conversation rows in ascending
//     id order, as the UPDATE of a single send or a group change would:
//     senders to one conversation, on any node, queue there, so seqs are
//     dense; the fixed order keeps two batches from deadlocking.
//  2. insertBatch, whose snapshot is taken after the locks are held (READ
//     COMMITTED: every statement sees what committed before it began), so
//     that a member removed by a change that committed first stores
//     nothing: it checks each message's client ID and membership, numbers
//     the messages stored per conversation in the batch's order, inserts
//     them with their search vectors in one multi-row insert, moves each
//     conversation's counters once and each sender's read cursor once,
//     and returns what it did with each message.
//  3. readRecipients reads the members of the batch's conversations, the
//     Recipients.
//
// A batch in which a message carries attachments takes a transaction of
// two more round trips instead (see createMessagesWithAttachments); a
// batch without takes none of them.
func (s *Store) CreateMessages(ctx context.Context, ms []chat.Message) ([]chat.SendResult, error) {
	if len(ms) == 0 {
		return nil, nil
	}
	for attempt := 1; ; attempt++ {
		rs, err := s.createMessages(ctx, ms)
		if err == nil {
			return rs, nil
		}
		if attempt == sendBatchAttempts || !(isUnique(err, "messages_sender_client") || isDeadlock(err)) {
			return nil, err
		}
	}
}

// genericPlans makes the statements after it in the transaction use
// their generic plans: insertBatch's is the same for every batch (index
// look-ups of one row each, whatever the batch's size), and planning it
// afresh for each batch, as PostgreSQL would (the generic plan's
// estimates differ from a custom plan's), costs more CPU than running a
// small batch.
const genericPlans = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true)`

// lockConversations locks the conversations $1, ascending: the ORDER BY is
// applied before the rows are locked.
const lockConversations = `
	SELECT id FROM conversations WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE`

// insertBatch stores the batch given as arrays, one element per message in
// the batch's order ($1 conversations, $2 senders, $3 bodies, $4 client
// IDs or NULL, $5 times, $6 search vectors or NULL, $7 attachments
// columns or NULL), each message as a CreateMessage of its own in that
// order would:
//
//   - a client ID the sender used before the batch (prior) answers with
//     that message;
//   - otherwise a sender who is not a member stores nothing;
//   - otherwise a client ID that an earlier message of the batch stored
//     (an earlier member's send with it: earlier_sent) answers with that
//     one;
//   - otherwise the message is stored (sent): the next seq and version of
//     its conversation, and a time never before the previous message's.
//
// Positions come from the column's default as the rows are inserted, in
// the batch's order, under the conversations' locks: they grow with seq.
// It returns one row per message, in order: its index, whether it was
// stored with its seq, version and time, whether its sender is a member,
// and the columns of the prior message if there is one.
const insertBatch = `
	WITH batch AS (
		SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::text[], $7::text[])
			WITH ORDINALITY AS b(conv, sender, body, client_id, at, search, attachments, i)
	), checked AS (
		-- Look-ups of one row each by index, whatever the planner thinks
		-- of the tables' sizes: a scalar subquery and a LATERAL with LIMIT
		-- are run per message, never turned into a scan of the whole table.
		SELECT b.*, p.*,
		       coalesce((SELECT true FROM members m WHERE m.conversation_id = b.conv AND m.user_id = b.sender), false) AS member
		FROM batch b
		LEFT JOIN LATERAL (
			SELECT conversation_id AS p_conv, seq AS p_seq, sender_id AS p_sender, body AS p_body, client_id AS p_client,
			       created_at AS p_at, kind AS p_kind, action AS p_action, target_id AS p_target, title AS p_title,
			       version AS p_version, edited_at AS p_edited, deleted_at AS p_deleted, attachments AS p_attachments
			FROM messages WHERE sender_id = b.sender AND client_id = b.client_id LIMIT 1) p ON true
	), earlier AS (
		SELECT c.*, coalesce(bool_or(c.member) OVER (PARTITION BY c.sender, c.client_id ORDER BY c.i
		                     ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), false) AS earlier_sent
		FROM checked c
	), sent AS (
		SELECT e.i, e.conv, e.sender, e.body, e.client_id, e.search, e.attachments,
		       c.last_seq + row_number() OVER w AS seq,
		       c.last_version + row_number() OVER w AS version,
		       greatest(c.last_message_at, max(e.at) OVER w) AS at
		FROM earlier e JOIN conversations c ON c.id = e.conv
		WHERE e.p_seq IS NULL AND e.member AND (e.client_id IS NULL OR NOT e.earlier_sent)
		WINDOW w AS (PARTITION BY e.conv ORDER BY e.i)
	), inserted AS (
		INSERT INTO messages (conversation_id, seq, sender_id, body, client_id, created_at, version, search, attachments)
		SELECT conv, seq, sender, body, client_id, at, version, search::tsvector, attachments FROM sent ORDER BY i
	), counters AS (
		UPDATE conversations c SET last_seq = n.seq, last_version = n.version, last_message_at = n.at
		FROM (SELECT conv, max(seq) AS seq, max(version) AS version, max(at) AS at FROM sent GROUP BY conv) n
		WHERE c.id = n.conv
	), cursors AS (
		UPDATE members m SET last_read_seq = GREATEST(m.last_read_seq, n.seq)
		FROM (SELECT conv, sender, max(seq) AS seq FROM sent GROUP BY conv, sender) n
		WHERE m.conversation_id = n.conv AND m.user_id = n.sender
	)
	SELECT e.i, s.i IS NOT NULL, coalesce(s.seq, 0), coalesce(s.version, 0), s.at, e.member,
	       e.p_conv, e.p_seq, e.p_sender, e.p_body, e.p_client, e.p_at, e.p_kind, e.p_action, e.p_target, e.p_title,
	       e.p_version, e.p_edited, e.p_deleted, e.p_attachments
	FROM earlier e
	LEFT JOIN sent s ON s.i = e.i
	ORDER BY e.i`

// readRecipients reads the members of the conversations $1, each
// conversation's in ascending order.
const readRecipients = `
	SELECT conversation_id, array_agg(user_id ORDER BY user_id) FROM members
	WHERE conversation_id = ANY($1::bigint[]) GROUP BY conversation_id`

// createMessages runs CreateMessages' pipeline once; a batch that carries
// attachments runs it in a transaction of its own (see
// createMessagesWithAttachments).
func (s *Store) createMessages(ctx context.Context, ms []chat.Message) ([]chat.SendResult, error) {
	for _, m := range ms {
		if len(m.Attachments) > 0 {
			return s.createMessagesWithAttachments(ctx, ms)
		}
	}
	return runPipeline(ctx, s.pool, ms, make([]*string, len(ms)))
}

// batchSender is a pool, or a transaction, that runs pipelines.
type batchSender interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// runPipeline stores ms with CreateMessages' pipeline on db, each message
// with its attachments column (attachments[i], NULL for none).
func runPipeline(ctx context.Context, db batchSender, ms []chat.Message, attachments []*string) ([]chat.SendResult, error) {
	var (
		convs    = make([]int64, len(ms))
		senders  = make([]int64, len(ms))
		bodies   = make([]string, len(ms))
		clients  = make([]*string, len(ms))
		times    = make([]time.Time, len(ms))
		searches = make([]*string, len(ms))
	)
	for i, m := range ms {
		convs[i], senders[i], bodies[i] = int64(m.ConversationID), int64(m.SenderID), m.Body
		clients[i], times[i], searches[i] = nullString(m.ClientID), m.CreatedAt, searchVector(m.Body)
	}
	distinct := distinctConversations(ms)

	var batch pgx.Batch
	batch.Queue(genericPlans)
	batch.Queue(lockConversations, distinct)
	batch.Queue(insertBatch, convs, senders, bodies, clients, times, searches, attachments)
	batch.Queue(readRecipients, distinct)
	br := db.SendBatch(ctx, &batch)
	rows, err := readBatchRows(br, ms)
	if err == nil {
		err = readRecipientRows(br, ms, rows)
	}
	// Outside a transaction, the implicit one commits at the pipeline's
	// end: Close reports whether it did.
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("store batch: %w", cerr)
	}
	if err != nil {
		return nil, err
	}
	return sendResults(ms, rows)
}

// distinctConversations returns the conversations of ms, ascending, each
// once.
func distinctConversations(ms []chat.Message) []int64 {
	ids := make([]int64, len(ms))
	for i, m := range ms {
		ids[i] = int64(m.ConversationID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// Statements of a batch that carries attachments, before its pipeline.
const (
	// readPriors finds which of the client IDs $2 of senders $1 were used
	// before.
	readPriors = `
		SELECT m.sender_id, m.client_id FROM unnest($1::bigint[], $2::text[]) AS v(sender, client_id)
		JOIN messages m ON m.sender_id = v.sender AND m.client_id = v.client_id`
	// lockUploads locks and reads the attachments $1, ascending (after
	// the conversations, as every send does, so that two sends do not
	// deadlock): a drop of pending uploads or another send that would
	// change them waits for this one, or this one for it and then reads
	// what it did.
	lockUploads = `
		SELECT ` + attachmentCols + `, deleted_at IS NOT NULL FROM attachments
		WHERE id = ANY($1::bigint[]) ORDER BY id FOR NO KEY UPDATE`
	// claimUploads gives the attachments $1 the seqs $2 of the messages
	// that carry them.
	claimUploads = `
		UPDATE attachments a SET seq = u.seq FROM unnest($1::bigint[], $2::bigint[]) AS u(id, seq) WHERE a.id = u.id`
)

// createMessagesWithAttachments stores a batch some of whose messages
// carry attachments, in one transaction: it locks the batch's
// conversations and attachments and reads their members, the client IDs
// used before and the attachments' rows (one round trip); decides, in the
// batch's order as insertBatch does, which messages are stored, refusing
// those whose attachments are not theirs to send; runs the pipeline on
// the others, each stored one with its attachments' column; and gives the
// attachments sent their messages' seqs.
func (s *Store) createMessagesWithAttachments(ctx context.Context, ms []chat.Message) ([]chat.SendResult, error) {
	rs := make([]chat.SendResult, len(ms))
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		clear(rs)
		distinct := distinctConversations(ms)
		var senders, ids []int64
		var clients []string
		for _, m := range ms {
			if m.ClientID != "" {
				senders, clients = append(senders, int64(m.SenderID)), append(clients, m.ClientID)
			}
			for _, a := range m.Attachments {
				ids = append(ids, int64(a.ID))
			}
		}
		var batch pgx.Batch
		batch.Queue(lockConversations, distinct)
		batch.Queue(readRecipients, distinct)
		batch.Queue(readPriors, senders, clients)
		batch.Queue(lockUploads, ids)
		br := tx.SendBatch(ctx, &batch)
		sb, err := readSendState(br)
		if cerr := br.Close(); err == nil && cerr != nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("store batch: %w", err)
		}

		// Which messages the pipeline gets, and what each stored one
		// carries.
		var (
			subset  []int
			sub     []chat.Message
			columns []*string
		)
		for i, m := range ms {
			carried, refusal := sb.decide(m)
			if refusal != nil {
				rs[i].Err = refusal
				continue
			}
			column, err := encodeAttachments(carried)
			if err != nil {
				return err
			}
			m.Attachments = carried
			subset, sub, columns = append(subset, i), append(sub, m), append(columns, column)
		}
		if len(sub) == 0 {
			return nil
		}
		subResults, err := runPipeline(ctx, tx, sub, columns)
		if err != nil {
			return err
		}
		var claimed, seqs []int64
		for k, r := range subResults {
			// A message stored by this batch carries its attachments
			// with its seq (a resend of it in the batch too).
			if m := &r.Stored.Message; r.Err == nil && len(m.Attachments) > 0 && m.Attachments[0].Seq == 0 {
				m.Attachments = slices.Clone(m.Attachments)
				for j := range m.Attachments {
					m.Attachments[j].Seq = m.Seq
					if r.Stored.Changed {
						claimed, seqs = append(claimed, int64(m.Attachments[j].ID)), append(seqs, m.Seq)
					}
				}
			}
			rs[subset[k]] = r
		}
		if len(claimed) > 0 {
			if _, err := tx.Exec(ctx, claimUploads, claimed, seqs); err != nil {
				return fmt.Errorf("claim attachments: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rs, nil
}

// sendState is what a batch with attachments reads before it decides
// which of its messages to store.
type sendState struct {
	members map[chat.ConversationID][]chat.UserID // ascending
	used    map[clientKey]bool                    // client IDs used before the batch or by a message it stores
	uploads map[chat.AttachmentID]upload
	claimed map[chat.AttachmentID]bool
}

type clientKey struct {
	sender   chat.UserID
	clientID string
}

// upload is an attachment's row as a send batch reads it.
type upload struct {
	chat.Attachment
	deleted bool
}

// readSendState reads the results of lockConversations, readRecipients,
// readPriors and lockUploads.
func readSendState(br pgx.BatchResults) (*sendState, error) {
	sb := &sendState{
		members: make(map[chat.ConversationID][]chat.UserID),
		used:    make(map[clientKey]bool),
		uploads: make(map[chat.AttachmentID]upload),
		claimed: make(map[chat.AttachmentID]bool),
	}
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("lock conversations: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("read members: %w", err)
	}
	for rows.Next() {
		var (
			conv int64
			ids  []int64
		)
		if err := rows.Scan(&conv, &ids); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read members: %w", err)
		}
		for _, id := range ids {
			sb.members[chat.ConversationID(conv)] = append(sb.members[chat.ConversationID(conv)], chat.UserID(id))
		}
	}
	if rows.Close(); rows.Err() != nil {
		return nil, fmt.Errorf("read members: %w", rows.Err())
	}
	if rows, err = br.Query(); err != nil {
		return nil, fmt.Errorf("read client IDs: %w", err)
	}
	for rows.Next() {
		var k clientKey
		if err := rows.Scan(&k.sender, &k.clientID); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read client IDs: %w", err)
		}
		sb.used[k] = true
	}
	if rows.Close(); rows.Err() != nil {
		return nil, fmt.Errorf("read client IDs: %w", rows.Err())
	}
	if rows, err = br.Query(); err != nil {
		return nil, fmt.Errorf("lock attachments: %w", err)
	}
	for rows.Next() {
		var u upload
		if u.Attachment, err = scanAttachment(rows, &u.deleted); err != nil {
			rows.Close()
			return nil, fmt.Errorf("lock attachments: %w", err)
		}
		sb.uploads[u.ID] = u
	}
	if rows.Close(); rows.Err() != nil {
		return nil, fmt.Errorf("lock attachments: %w", rows.Err())
	}
	return sb, nil
}

// decide returns what m carries if it is stored, after the messages
// before it in the batch: a resend (its client ID used before) or a
// non-member's message is left to the pipeline, which answers it and
// claims nothing; otherwise each attachment m names must be its sender's
// pending upload to its conversation that no earlier message of the batch
// carries, else m is refused (the error) and claims none.
func (sb *sendState) decide(m chat.Message) ([]chat.Attachment, error) {
	key := clientKey{m.SenderID, m.ClientID}
	if m.ClientID != "" && sb.used[key] {
		return nil, nil
	}
	if _, member := slices.BinarySearch(sb.members[m.ConversationID], m.SenderID); !member {
		return nil, nil
	}
	var carried []chat.Attachment
	for _, ref := range m.Attachments {
		u, ok := sb.uploads[ref.ID]
		if !ok || u.deleted || u.Seq != 0 || sb.claimed[ref.ID] || u.UploaderID != m.SenderID ||
			u.ConversationID != m.ConversationID || slices.ContainsFunc(carried, func(a chat.Attachment) bool { return a.ID == ref.ID }) {
			return nil, errUnsendable(ref.ID)
		}
		carried = append(carried, u.Attachment)
	}
	for _, a := range carried {
		sb.claimed[a.ID] = true
	}
	if m.ClientID != "" {
		sb.used[key] = true
	}
	return carried, nil
}

// errUnsendable refuses a message naming attachment id, saying nothing of
// whose or where it is.
func errUnsendable(id chat.AttachmentID) error {
	return chat.Errorf(chat.EINVALID, "attachment %d cannot be sent: it is not an upload of yours to this conversation waiting to be sent", id)
}

// batchRow is what insertBatch did with one message.
type batchRow struct {
	sent       bool
	stored     chat.Message // the message as stored, when sent
	member     bool
	prior      *chat.Message // the sender's earlier message with its client ID
	recipients []chat.UserID
}

// readBatchRows reads the results of genericPlans, lockConversations and
// insertBatch.
func readBatchRows(br pgx.BatchResults, ms []chat.Message) ([]batchRow, error) {
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("plan cache mode: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return nil, fmt.Errorf("lock conversations: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	out := make([]batchRow, len(ms))
	for rows.Next() {
		var (
			i       int64
			r       batchRow
			seq     int64
			version int64
			at      *time.Time
			p       priorRow
		)
		if err := rows.Scan(&i, &r.sent, &seq, &version, &at, &r.member,
			&p.conv, &p.seq, &p.sender, &p.body, &p.clientID, &p.createdAt, &p.kind, &p.action, &p.target, &p.title,
			&p.version, &p.edited, &p.deleted, &p.attachments); err != nil {
			rows.Close()
			return nil, fmt.Errorf("insert messages: %w", err)
		}
		if i < 1 || int(i) > len(ms) {
			rows.Close()
			return nil, fmt.Errorf("insert messages: row %d of a batch of %d", i, len(ms))
		}
		m := ms[i-1]
		if r.sent {
			m.Seq, m.Version, m.CreatedAt = seq, version, derefTime(at)
			m.Kind, m.System = chat.MessageText, nil
			r.stored = m
		}
		if r.prior, err = p.message(); err != nil {
			rows.Close()
			return nil, fmt.Errorf("insert messages: %w", err)
		}
		out[i-1] = r
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("insert messages: %w", err)
	}
	return out, nil
}

// readRecipientRows reads the result of readRecipients into the rows of
// the messages stored.
func readRecipientRows(br pgx.BatchResults, ms []chat.Message, out []batchRow) error {
	rows, err := br.Query()
	if err != nil {
		return fmt.Errorf("read recipients: %w", err)
	}
	members := make(map[chat.ConversationID][]chat.UserID)
	for rows.Next() {
		var (
			conv int64
			ids  []int64
		)
		if err := rows.Scan(&conv, &ids); err != nil {
			rows.Close()
			return fmt.Errorf("read recipients: %w", err)
		}
		to := make([]chat.UserID, len(ids))
		for i, id := range ids {
			to[i] = chat.UserID(id)
		}
		members[chat.ConversationID(conv)] = to
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read recipients: %w", err)
	}
	for i := range out {
		if out[i].sent {
			out[i].recipients = members[ms[i].ConversationID]
		}
	}
	return nil
}

// sendResults answers each message of the batch from what insertBatch
// did, in the rules' order (see insertBatch).
func sendResults(ms []chat.Message, rows []batchRow) ([]chat.SendResult, error) {
	sentBatch := make(map[clientKey]chat.Message)
	rs := make([]chat.SendResult, len(ms))
	for i, m := range ms {
		r := rows[i]
		first, inBatch := sentBatch[clientKey{m.SenderID, m.ClientID}]
		switch {
		case r.sent:
			rs[i].Stored = chat.Stored{Message: r.stored, Changed: true, Recipients: r.recipients}
			if m.ClientID != "" {
				sentBatch[clientKey{m.SenderID, m.ClientID}] = r.stored
			}
			continue
		case r.prior != nil:
			first = *r.prior
		case m.ClientID != "" && inBatch:
			// first is the batch's earlier message with this client ID.
		case r.member:
			return nil, fmt.Errorf("store batch: message %d of a member was neither stored nor answered", i)
		default:
			rs[i].Err = chat.NotFound("conversation")
			continue
		}
		if first.ConversationID != m.ConversationID {
			rs[i].Err = chat.Errorf(chat.ECONFLICT, "client_id %q was used for another conversation", m.ClientID)
			continue
		}
		rs[i].Stored = chat.Stored{Message: first}
	}
	return rs, nil
}

// priorRow is the columns of a message insertBatch found by client ID,
// all NULL when there is none.
type priorRow struct {
	conv, seq, sender, version *int64
	body, clientID, kind       *string
	action, title, attachments *string
	target                     *int64
	createdAt, edited, deleted *time.Time
}

// message returns the message, or nil when there is none.
func (p priorRow) message() (*chat.Message, error) {
	if p.conv == nil {
		return nil, nil
	}
	m := chat.Message{
		ConversationID: chat.ConversationID(*p.conv), Seq: *p.seq, SenderID: chat.UserID(*p.sender),
		Body: deref(p.body), ClientID: deref(p.clientID), CreatedAt: derefTime(p.createdAt),
		Version: *p.version, EditedAt: derefTime(p.edited), DeletedAt: derefTime(p.deleted),
	}
	m.Kind, m.System = messageKind(deref(p.kind), *p.sender, p.action, p.target, p.title)
	return &m, decodeAttachments(&m, p.attachments)
}

// MessageByClientID returns the message sender sent with clientID, or
// ENOTFOUND.
func (s *Store) MessageByClientID(ctx context.Context, sender chat.UserID, clientID string) (chat.Message, error) {
	m, err := scanMessage(s.pool.QueryRow(ctx, `
		SELECT `+messageCols+`
		FROM messages WHERE sender_id = $1 AND client_id = $2`, int64(sender), clientID))
	if errors.Is(err, pgx.ErrNoRows) {
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
		rows pgx.Rows
		err  error
	)
	switch {
	case q.After:
		rows, err = s.pool.Query(ctx, cols+`
			WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, int64(id), q.AfterSeq, q.Limit)
	case q.BeforeSeq > 0:
		rows, err = s.pool.Query(ctx, `SELECT * FROM (`+cols+`
			WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3) page ORDER BY seq`, int64(id), q.BeforeSeq, q.Limit)
	default:
		rows, err = s.pool.Query(ctx, `SELECT * FROM (`+cols+`
			WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2) page ORDER BY seq`, int64(id), q.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("select messages: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.Message, error) { return scanMessage(r) })
	if err != nil {
		return nil, fmt.Errorf("select messages: %w", err)
	}
	return msgs, nil
}

// MarkRead moves a member's read cursor forward, never back, clamped to the
// conversation's last_seq; the statement that moves it also reads the
// recipients.
func (s *Store) MarkRead(ctx context.Context, id chat.ConversationID, user chat.UserID, seq int64) (chat.ReadMark, error) {
	var (
		cursor *int64
		to     []int64
	)
	err := s.pool.QueryRow(ctx, `
		WITH moved AS (
			UPDATE members m SET last_read_seq = least($1::bigint, c.last_seq)
			FROM conversations c
			WHERE c.id = m.conversation_id AND m.conversation_id = $2 AND m.user_id = $3
			  AND m.last_read_seq < least($1::bigint, c.last_seq)
			RETURNING m.last_read_seq)
		SELECT (SELECT last_read_seq FROM moved),
		       CASE WHEN EXISTS (SELECT 1 FROM moved)
		            THEN array(SELECT user_id FROM members WHERE conversation_id = $2 ORDER BY user_id) END`,
		seq, int64(id), int64(user)).Scan(&cursor, &to)
	if err != nil {
		return chat.ReadMark{}, fmt.Errorf("mark read: %w", err)
	}
	if cursor != nil {
		r := chat.ReadMark{Seq: *cursor, Moved: true, Recipients: make([]chat.UserID, len(to))}
		for i, u := range to {
			r.Recipients[i] = chat.UserID(u)
		}
		return r, nil
	}
	// Nothing moved: either the cursor is already there, or not a member.
	m, err := s.Member(ctx, id, user)
	if err != nil {
		return chat.ReadMark{}, err
	}
	return chat.ReadMark{Seq: m.LastReadSeq}, nil
}

// messageCols are the columns scanMessage reads, in its order.
const messageCols = `conversation_id, seq, sender_id, body, client_id, created_at, kind, action, target_id, title, version, edited_at, deleted_at, attachments`

func scanMessage(r pgx.Row) (chat.Message, error) {
	var (
		m             chat.Message
		clientID      *string
		kind          string
		action, title *string
		target        *int64
		edited, gone  *time.Time
		attachments   *string
	)
	if err := r.Scan(&m.ConversationID, &m.Seq, &m.SenderID, &m.Body, &clientID, &m.CreatedAt, &kind, &action, &target, &title,
		&m.Version, &edited, &gone, &attachments); err != nil {
		return chat.Message{}, err
	}
	m.EditedAt, m.DeletedAt = derefTime(edited), derefTime(gone)
	if clientID != nil {
		m.ClientID = *clientID
	}
	m.Kind, m.System = messageKind(kind, int64(m.SenderID), action, target, title)
	return m, decodeAttachments(&m, attachments)
}

// messageKind returns a stored message's kind and, for a system message,
// what it records, from its kind, sender_id, action, target_id and title
// columns.
func messageKind(kind string, sender int64, action *string, target *int64, title *string) (chat.MessageKind, *chat.SystemEvent) {
	if chat.MessageKind(kind) != chat.MessageSystem {
		return chat.MessageText, nil
	}
	ev := &chat.SystemEvent{Action: chat.SystemAction(deref(action)), ActorID: chat.UserID(sender), Title: deref(title)}
	if target != nil {
		ev.UserID = chat.UserID(*target)
	}
	return chat.MessageSystem, ev
}

// deref returns *s, or "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// nullString stores "" as NULL, so that UNIQUE (sender_id, client_id)
// binds only messages that carry a client ID.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// derefTime returns *t, or the zero time for nil (a NULL column).
func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
