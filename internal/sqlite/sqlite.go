// Package sqlite implements chat.Store on SQLite (modernc.org/sqlite, pure
// Go). It keeps one write connection, so writers queue in the process
// instead of contending for the file lock, and a pool of read-only
// connections that WAL mode lets run beside the writer.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/parleychat/parley/internal/chat"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ chat.Store = (*Store)(nil)

// Store is a chat.Store on one SQLite database file.
type Store struct {
	write *sql.DB // exactly one connection
	read  *sql.DB // read-only pool

	// writeStmts are the write connection's statements of sends,
	// prepared at open: preparing costs more than running them.
	writeStmts stmtCache

	// Statements every send and typing event runs, and every request's
	// session and user look-ups, prepared once: preparing costs more than
	// running them.
	memberStmt, membersStmt, byClientIDStmt, sessionStmt, userStmt *sql.Stmt
}

// Options tune a Store.
type Options struct {
	// Timeout bounds each call of the store, waits for the writer and
	// for locks included: past it the call ends EUNAVAILABLE. 0 is
	// DefaultTimeout.
	Timeout time.Duration
	// Logger gets the database's outage lines (see Guarded); nil
	// discards them.
	Logger *slog.Logger
}

// Open opens (creating if needed) the database at path, applies pending
// migrations and returns the store, guarded (see Guarded).
func Open(ctx context.Context, path string, opts Options) (*Guarded, error) {
	s, err := open(ctx, path, nil)
	if err != nil {
		return nil, err
	}
	return newGuarded(s, newGuard(opts)), nil
}

// open is Open with a hook that may wrap the driver's connectors, so tests
// can see every statement the store runs.
func open(ctx context.Context, path string, wrap func(driver.Connector) driver.Connector) (*Store, error) {
	if wrap == nil {
		wrap = func(c driver.Connector) driver.Connector { return c }
	}
	pragmas := url.Values{}
	for _, p := range []string{"busy_timeout(10000)", "foreign_keys(1)", "synchronous(FULL)"} {
		pragmas.Add("_pragma", p)
	}
	writeQuery := url.Values{"_txlock": {"immediate"}}
	readQuery := url.Values{"mode": {"ro"}}
	for k, v := range pragmas {
		writeQuery[k], readQuery[k] = v, v
	}
	writeQuery.Add("_pragma", "journal_mode(WAL)")
	// A batch of sends to many conversations dirties a page of each index
	// per conversation: a page cache that holds them all is written once,
	// at the commit, not spilled to the WAL before it.
	writeQuery.Add("_pragma", "cache_size(-32768)")
	// A multi-row statement keeps the pages it changes in a statement
	// journal, to undo itself alone if it fails: in memory, not in a
	// temporary file written for every batch.
	writeQuery.Add("_pragma", "temp_store(MEMORY)")
	// A deleted message's body must leave the file, not linger in a free
	// page until it is reused.
	writeQuery.Add("_pragma", "secure_delete(1)")

	openDB := func(q url.Values) (*sql.DB, error) {
		c, err := sqlite.NewConnector((&url.URL{Scheme: "file", Opaque: path, RawQuery: q.Encode()}).String())
		if err != nil {
			return nil, err
		}
		return sql.OpenDB(wrap(c)), nil
	}
	write, err := openDB(writeQuery)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := migrate(ctx, write); err != nil {
		_ = write.Close() // the migration's error is the one to report
		return nil, err
	}
	// The read pool opens after the writer has made the file and its WAL.
	read, err := openDB(readQuery)
	if err != nil {
		_ = write.Close() // the open's error is the one to report
		return nil, fmt.Errorf("open %s read-only: %w", path, err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	s := &Store{write: write, read: read, writeStmts: stmtCache{db: write}}
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.memberStmt, `SELECT last_read_seq, joined_at, role FROM members WHERE conversation_id = ? AND user_id = ?`},
		{&s.membersStmt, `SELECT user_id FROM members WHERE conversation_id = ? ORDER BY user_id`},
		{&s.byClientIDStmt, `SELECT ` + messageCols + ` FROM messages WHERE sender_id = ? AND client_id = ?`},
		{&s.sessionStmt, findSessionQuery},
		{&s.userStmt, userQuery + `WHERE id = ?`},
	} {
		if *p.stmt, err = read.PrepareContext(ctx, p.query); err != nil {
			_ = s.Close() // the prepare's error is the one to report
			return nil, fmt.Errorf("prepare: %w", err)
		}
	}
	if err := s.writeStmts.prepare(ctx, sendQueries()); err != nil {
		_ = s.Close() // the prepare's error is the one to report
		return nil, err
	}
	return s, nil
}

func migrate(ctx context.Context, db *sql.DB) error {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	provider, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithGoMigrations(goMigrations()...))
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	errs := []error{s.writeStmts.close()}
	for _, stmt := range []*sql.Stmt{s.memberStmt, s.membersStmt, s.byClientIDStmt, s.sessionStmt, s.userStmt} {
		if stmt != nil {
			errs = append(errs, stmt.Close())
		}
	}
	return errors.Join(append(errs, s.read.Close(), s.write.Close())...)
}

// Ping reports whether the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	return s.read.QueryRowContext(ctx, `SELECT 1`).Scan(&one)
}

// isUnique reports whether err is a UNIQUE or PRIMARY KEY violation.
func isUnique(err error) bool {
	var e *sqlite.Error
	if errors.As(err, &e) {
		c := e.Code()
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// stmtCache holds statements prepared on one database, by query.
type stmtCache struct {
	db    *sql.DB
	mu    sync.Mutex
	stmts map[string]*sql.Stmt
}

// prepare prepares the queries. It takes one of the database's
// connections: with the write connection's one, call it while no
// transaction holds it.
func (c *stmtCache) prepare(ctx context.Context, queries []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stmts == nil {
		c.stmts = make(map[string]*sql.Stmt)
	}
	for _, q := range queries {
		if _, ok := c.stmts[q]; ok {
			continue
		}
		stmt, err := c.db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("prepare: %w", err)
		}
		c.stmts[q] = stmt
	}
	return nil
}

// lookup returns query's statement, or nil when it was not prepared.
func (c *stmtCache) lookup(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stmts[query]
}

// close closes every statement.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, stmt := range c.stmts {
		errs = append(errs, stmt.Close())
	}
	c.stmts = nil
	return errors.Join(errs...)
}
