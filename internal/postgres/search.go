package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/searchtext"
)

// Message search keeps, in messages.search, a tsvector of the words
// searchtext.Words finds in the body, written as tsvector text with
// explicit positions and cast with ::tsvector, which stores lexemes as
// given. PostgreSQL's own parser (to_tsvector) is never used: its rules
// for URLs, e-mail addresses, hyphenated words and host names cut text
// differently, and the SQLite store must find the same messages.

// maxLexemePositions is the most positions PostgreSQL keeps for one
// lexeme of a tsvector (a longer list is cut). A word repeated more often
// in one message is still found, but a phrase that uses one of its later
// occurrences is not. Positions themselves stay far below PostgreSQL's
// limit of 16383: a body of chat.MaxBody characters holds fewer words.
const maxLexemePositions = 256

// searchVector returns the tsvector text of body's words, or nil when it
// has none (the column is then NULL, as for a deleted message).
func searchVector(body string) *string {
	words := searchtext.Words(body)
	if len(words) == 0 {
		return nil
	}
	positions := make(map[string][]int, len(words))
	order := make([]string, 0, len(words))
	for i, w := range words {
		p, seen := positions[w]
		if !seen {
			order = append(order, w)
		}
		if len(p) < maxLexemePositions {
			positions[w] = append(p, i+1)
		}
	}
	var b strings.Builder
	for i, w := range order {
		if i > 0 {
			b.WriteByte(' ')
		}
		quoteLexeme(&b, w)
		for j, p := range positions[w] {
			if j == 0 {
				b.WriteByte(':')
			} else {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Itoa(p))
		}
	}
	v := b.String()
	return &v
}

// searchQuery returns the tsquery text that matches terms as
// chat.SearchTerm describes: a word is a prefix ('w':*), a phrase its
// whole words in a row ('a' <-> 'b'), all of them ANDed.
func searchQuery(terms []chat.SearchTerm) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteString(" & ")
		}
		if !t.Phrase {
			quoteLexeme(&b, t.Words[0])
			b.WriteString(":*")
			continue
		}
		b.WriteByte('(')
		for j, w := range t.Words {
			if j > 0 {
				b.WriteString(" <-> ")
			}
			quoteLexeme(&b, w)
		}
		b.WriteByte(')')
	}
	return b.String()
}

// quoteLexeme writes w as a quoted lexeme of tsvector or tsquery text.
// searchtext.Words gives letters, digits and marks only, but the escaping
// keeps any word a single lexeme.
func quoteLexeme(b *strings.Builder, w string) {
	b.WriteByte('\'')
	for _, r := range w {
		if r == '\'' || r == '\\' {
			b.WriteRune(r)
		}
		b.WriteRune(r)
	}
	b.WriteByte('\'')
}

// SearchMessages finds messages with two statements in one read-only
// snapshot: the hits, then the list rows of their conversations.
//
// The hits statement leaves the plan to PostgreSQL, which weighs the
// tsquery's selectivity (from the column's statistics) against the share
// of messages the searcher can read: a rare word is looked up in the GIN
// index and its few rows sorted; a common one walks the position index
// backwards and stops at the limit. It is sent unprepared, so that every
// search is planned for its own words: a cached generic plan, planned
// without them, could take one of the two for every search.
func (s *Store) SearchMessages(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	before := q.Before
	if before == 0 {
		before = math.MaxInt64
	}
	members := `SELECT conversation_id FROM members WHERE user_id = $3`
	args := []any{pgx.QueryExecModeExec, searchQuery(q.Terms), before, int64(q.User), q.Limit}
	if q.ConversationID != 0 {
		members += ` AND conversation_id = $5`
		args = append(args, int64(q.ConversationID))
	}
	var hits []chat.SearchHit
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
			SELECT h.*, u.username, u.display_name, u.created_at, u.closed_at IS NOT NULL
			FROM (SELECT `+messageCols+`, position FROM messages
			      WHERE search @@ $1::tsquery AND position < $2 AND conversation_id IN (`+members+`)
			      ORDER BY position DESC LIMIT $4) h
			JOIN users u ON u.id = h.sender_id
			ORDER BY h.position DESC`, args...)
		if err != nil {
			return fmt.Errorf("search messages: %w", err)
		}
		hits, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.SearchHit, error) {
			var h chat.SearchHit
			m, err := scanMessage(appendedRow{r, []any{&h.Position, &h.Sender.Username, &h.Sender.DisplayName, &h.Sender.CreatedAt, &h.Sender.Closed}})
			h.Message = m
			h.Sender.ID = m.SenderID
			return h, err
		})
		if err != nil {
			return fmt.Errorf("search messages: %w", err)
		}
		if len(hits) == 0 {
			return nil
		}
		ids := make([]int64, 0, len(hits))
		for _, h := range hits {
			ids = append(ids, int64(h.Message.ConversationID))
		}
		rows, err = tx.Query(ctx, summaryQuery+`
			WHERE m.user_id = $1 AND c.id = ANY($2)`, int64(q.User), ids)
		if err != nil {
			return fmt.Errorf("search conversations: %w", err)
		}
		convs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (chat.ConversationRow, error) { return scanSummary(r) })
		if err != nil {
			return fmt.Errorf("search conversations: %w", err)
		}
		byID := make(map[chat.ConversationID]chat.ConversationRow, len(convs))
		for _, c := range convs {
			byID[c.ID] = c
		}
		for i := range hits {
			hits[i].Conversation = byID[hits[i].Message.ConversationID]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return hits, nil
}

// appendedRow is a row of messageCols followed by more columns, which go
// to more.
type appendedRow struct {
	pgx.Row
	more []any
}

func (r appendedRow) Scan(dest ...any) error {
	return r.Row.Scan(append(dest, r.more...)...)
}

// searchBatch is how many messages backfillSearch updates per statement:
// a few megabytes of bodies at most.
const searchBatch = 5000

// backfillSearch is migration 7: it gives the messages that were there
// before migration 6 their positions, in the order they were created, and
// indexes the words of those that are text and not deleted. It ranks
// them first, into a temporary table, then walks the primary key a batch
// at a time, setting each row's position and words in one update: a
// large table is never in memory, and each row is written once.
func backfillSearch(ctx context.Context, tx *sql.Tx) error {
	for _, stmt := range []string{`
		CREATE TEMPORARY TABLE message_positions ON COMMIT DROP AS
		SELECT conversation_id, seq, row_number() OVER (ORDER BY created_at, conversation_id, seq) AS position
		FROM messages WHERE position IS NULL`,
		`ALTER TABLE message_positions ADD PRIMARY KEY (conversation_id, seq)`,
		`ANALYZE message_positions`,
	} {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("rank messages: %w", err)
		}
	}
	var lastConv, lastSeq int64
	for {
		// A message sent since migration 6 by a node that does not
		// index has its position already, and its words are indexed here.
		// The position is looked up row by row: a join would walk the
		// whole ranking for every batch.
		rows, err := tx.QueryContext(ctx, `
			SELECT m.conversation_id, m.seq,
			       coalesce((SELECT p.position FROM message_positions p WHERE p.conversation_id = m.conversation_id AND p.seq = m.seq), m.position),
			       CASE WHEN m.kind = 'text' AND m.deleted_at IS NULL THEN m.body ELSE '' END
			FROM messages m
			WHERE (m.conversation_id, m.seq) > ($1, $2)
			ORDER BY m.conversation_id, m.seq LIMIT $3`, lastConv, lastSeq, searchBatch)
		if err != nil {
			return fmt.Errorf("backfill search: %w", err)
		}
		var (
			convs, seqs, positions []int64
			vectors                []*string
			conv, seq, position    int64
			body                   string
		)
		for rows.Next() {
			if err := rows.Scan(&conv, &seq, &position, &body); err != nil {
				_ = rows.Close()
				return fmt.Errorf("backfill search: %w", err)
			}
			convs, seqs, positions = append(convs, conv), append(seqs, seq), append(positions, position)
			vectors = append(vectors, searchVector(body))
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("backfill search: %w", err)
		}
		if len(convs) == 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE messages m SET position = v.position, search = v.search::tsvector
			FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::text[]) AS v(conversation_id, seq, position, search)
			WHERE m.conversation_id = v.conversation_id AND m.seq = v.seq`, convs, seqs, positions, vectors); err != nil {
			return fmt.Errorf("backfill search: %w", err)
		}
		lastConv, lastSeq = conv, seq
	}
}
