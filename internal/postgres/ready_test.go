package postgres

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestWritable: a store whose sessions are read-only (as on a server set
// read-only) is not writable, though it answers a ping; the same schema
// through an ordinary pool is; a closed pool is not.
func TestWritable(t *testing.T) {
	schema := newSchema(t)
	s := openTest(t, schema, nil)
	if err := s.Writable(t.Context()); err != nil {
		t.Fatalf("Writable: %v", err)
	}
	ro := openTest(t, schema, func(c *pgxpool.Config) {
		c.ConnConfig.RuntimeParams["default_transaction_read_only"] = "on"
	})
	if err := ro.Ping(t.Context()); err != nil {
		t.Fatalf("Ping of the read-only store: %v", err)
	}
	if err := ro.Writable(t.Context()); err == nil {
		t.Error("Writable of a read-only store: nil")
	}
	gone := openTest(t, schema, nil)
	gone.Close()
	if err := gone.Writable(context.Background()); err == nil {
		t.Error("Writable of a closed pool: nil")
	}
}
