package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"
)

// goMigrations returns the migrations that need Go, beside the SQL ones
// in migrations/.
func goMigrations() []*goose.Migration {
	return []*goose.Migration{
		// 7 fills in what migration 6 added for the messages already
		// stored: only Go computes searchtext.Words.
		goose.NewGoMigration(7, &goose.GoFunc{RunTx: indexMessages}, &goose.GoFunc{RunTx: unindexMessages}),
	}
}

// indexBatch is how many messages the backfill reads at a time: it bounds
// the memory a database of millions of messages takes to index.
const indexBatch = 2000

// indexMessages gives the text messages their positions, in the order
// they were created, and puts their words into the search index.
func indexMessages(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `
		UPDATE messages SET position = o.position
		FROM (SELECT conversation_id, seq, row_number() OVER (ORDER BY created_at, conversation_id, seq) AS position
		      FROM messages WHERE kind = 'text') AS o
		WHERE messages.conversation_id = o.conversation_id AND messages.seq = o.seq`); err != nil {
		return fmt.Errorf("number messages: %w", err)
	}
	for after := int64(0); ; {
		var (
			entries indexEntries
			n       int
		)
		rows, err := tx.QueryContext(ctx, `
			SELECT position, body FROM messages WHERE position > ? ORDER BY position LIMIT ?`, after, indexBatch)
		if err != nil {
			return fmt.Errorf("read messages: %w", err)
		}
		for rows.Next() {
			var body string
			if err := rows.Scan(&after, &body); err != nil {
				_ = rows.Close() // the scan error is the one to report
				return fmt.Errorf("read messages: %w", err)
			}
			entries.add(after, body)
			n++
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read messages: %w", err)
		}
		if err := entries.insert(ctx, tx); err != nil {
			return err
		}
		if n < indexBatch {
			return nil
		}
	}
}

// unindexMessages empties the search index and takes the positions away.
func unindexMessages(ctx context.Context, tx *sql.Tx) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO message_search (message_search) VALUES ('delete-all')`); err != nil {
		return fmt.Errorf("empty the search index: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE messages SET position = NULL WHERE position IS NOT NULL`); err != nil {
		return fmt.Errorf("clear positions: %w", err)
	}
	return nil
}
