package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"strings"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/searchtext"
)

// Message search keeps, in the FTS5 table message_search, the words of
// every text message under the message's position (the table's rowid):
// the sends of a batch, an edit and a deletion change it in the
// transaction that changes the message. The table is contentless, so a
// message's words are taken out with the 'delete' command, which must be
// given exactly the words that were put in: searchWords of the body the
// message had, which is why every change reads the body it replaces. A
// change to searchtext.Words therefore needs the index rebuilt, as it
// would anyway for the search to find old messages by their new words.

// searchWords returns the text that the index keeps for a message's body:
// its searchtext.Words joined by single spaces ("" when it has none).
func searchWords(body string) string {
	return strings.Join(searchtext.Words(body), " ")
}

// indexQuery puts the words of many messages into the index in one
// statement: ?1 is a JSON array of [position, words] pairs.
const indexQuery = `
	INSERT INTO message_search (rowid, words) SELECT value ->> 0, value ->> 1 FROM json_each(?1)`

// indexEntries gathers the words of messages for indexQuery.
type indexEntries [][2]any

// add adds the words of a message's body under its position, unless it
// has none.
func (e *indexEntries) add(position int64, body string) {
	if words := searchWords(body); words != "" {
		*e = append(*e, [2]any{position, words})
	}
}

// insert runs indexQuery for the entries gathered, if any.
func (e indexEntries) insert(ctx context.Context, tx *sql.Tx) error {
	if len(e) == 0 {
		return nil
	}
	arg, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("index words: %w", err)
	}
	if _, err := tx.ExecContext(ctx, indexQuery, arg); err != nil {
		return fmt.Errorf("index words: %w", err)
	}
	return nil
}

// reindex replaces, inside tx, the words in the index of message seq of
// conv: out go those of oldBody, the body it had (the 'delete' command
// needs them), in go those of newBody ("" for a deletion). A message
// without a position (a system message) is not in the index.
func reindex(ctx context.Context, tx *sql.Tx, conv chat.ConversationID, seq int64, oldBody, newBody string) error {
	for _, change := range []struct {
		query, body string
	}{
		{`INSERT INTO message_search (message_search, rowid, words)
		  SELECT 'delete', position, ?3 FROM messages WHERE conversation_id = ?1 AND seq = ?2 AND position IS NOT NULL`, oldBody},
		{`INSERT INTO message_search (rowid, words)
		  SELECT position, ?3 FROM messages WHERE conversation_id = ?1 AND seq = ?2 AND position IS NOT NULL`, newBody},
	} {
		words := searchWords(change.body)
		if words == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, change.query, int64(conv), seq, words); err != nil {
			return fmt.Errorf("reindex message: %w", err)
		}
	}
	return nil
}

// matchExpr returns the FTS5 query of the terms, ANDed: a word is a prefix
// query, a phrase a phrase of whole words.
func matchExpr(terms []chat.SearchTerm) string {
	var b strings.Builder
	for i, t := range terms {
		if i > 0 {
			b.WriteString(" AND ")
		}
		// Words hold letters, digits and marks only; quoting them still
		// keeps any of them from being read as FTS5 syntax (AND, NEAR).
		b.WriteString(`"`)
		b.WriteString(strings.ReplaceAll(strings.Join(t.Words, " "), `"`, `""`))
		b.WriteString(`"`)
		if !t.Phrase {
			b.WriteString(" *")
		}
	}
	return b.String()
}

// hitsQuery returns the query of a page of hits. CROSS JOIN keeps the
// index the outer loop: FTS5 hands out its matches in descending rowid order, so the
// page is read from the newest match on and the walk stops at the limit,
// with no sort of every match. The test of deleted_at is a safeguard: a
// deleted message's words are no longer in the index.
func hitsQuery() string {
	return `
	SELECT s.rowid, u.username, u.display_name, u.created_at, u.closed_at IS NOT NULL, ` + prefixCols("m.", messageCols) + `
	FROM message_search s
	CROSS JOIN messages m ON m.position = s.rowid
	CROSS JOIN members mb ON mb.conversation_id = m.conversation_id AND mb.user_id = ?1
	CROSS JOIN users u ON u.id = m.sender_id
	WHERE message_search MATCH ?2 AND s.rowid < ?3 AND (?4 = 0 OR m.conversation_id = ?4) AND m.deleted_at IS NULL
	ORDER BY s.rowid DESC
	LIMIT ?5`
}

// hitConversationsQuery selects the searcher's list rows of the
// conversations in a JSON array of IDs.
const hitConversationsQuery = `
	WITH page AS (SELECT DISTINCT value AS conversation_id, ?1 AS user_id FROM json_each(?2))` + summaryQuery

// prefixCols qualifies each of a list of columns with prefix.
func prefixCols(prefix, cols string) string {
	return prefix + strings.ReplaceAll(cols, ", ", ", "+prefix)
}

// SearchMessages finds a page of messages in two statements, in one read
// transaction so that both see the same snapshot: the hits, then the
// list rows of their conversations.
func (s *Store) SearchMessages(ctx context.Context, q chat.SearchQuery) ([]chat.SearchHit, error) {
	before := q.Before
	if before == 0 {
		before = math.MaxInt64
	}
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // read only: nothing to keep

	rows, err := tx.QueryContext(ctx, hitsQuery(), int64(q.User), matchExpr(q.Terms), before, int64(q.ConversationID), q.Limit)
	if err != nil {
		return nil, fmt.Errorf("search messages: %w", err)
	}
	var (
		hits []chat.SearchHit
		ids  []chat.ConversationID
		seen = map[chat.ConversationID]int{} // conversation → its index in ids
	)
	for rows.Next() {
		var (
			h       chat.SearchHit
			created int64
		)
		m, err := scanMessage(prependScanner{rows, []any{&h.Position, &h.Sender.Username, &h.Sender.DisplayName, &created, &h.Sender.Closed}})
		if err != nil {
			_ = rows.Close() // the scan error is the one to report
			return nil, fmt.Errorf("scan hit: %w", err)
		}
		h.Message = m
		h.Sender.ID, h.Sender.CreatedAt = m.SenderID, fromMicros(created)
		if _, ok := seen[m.ConversationID]; !ok {
			seen[m.ConversationID] = len(ids)
			ids = append(ids, m.ConversationID)
		}
		hits = append(hits, h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search messages: %w", err)
	}
	if len(hits) == 0 {
		return nil, nil
	}

	arg, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("search conversations: %w", err)
	}
	rows, err = tx.QueryContext(ctx, hitConversationsQuery, int64(q.User), arg)
	if err != nil {
		return nil, fmt.Errorf("search conversations: %w", err)
	}
	defer func() { _ = rows.Close() }() // rows.Err reports a failed read
	convs := make([]chat.ConversationRow, len(ids))
	for rows.Next() {
		c, err := scanSummary(rows)
		if err != nil {
			return nil, fmt.Errorf("scan conversation: %w", err)
		}
		convs[seen[c.ID]] = c
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("search conversations: %w", err)
	}
	for i := range hits {
		hits[i].Conversation = convs[seen[hits[i].Message.ConversationID]]
	}
	return hits, nil
}

// prependScanner scans a row whose first columns go to first and the
// rest to what the caller scans.
type prependScanner struct {
	r     scanner
	first []any
}

func (p prependScanner) Scan(dest ...any) error {
	return p.r.Scan(append(p.first, dest...)...)
}
