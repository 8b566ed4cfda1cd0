// Package postgres implements chat.Store on PostgreSQL (pgx), for running
// Parley on several nodes that share one database. Where the SQLite store
// relies on its single writer, this one relies on row locks and unique
// constraints, so that any number of connections on any number of nodes
// may write at once.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/parleychat/parley/internal/chat"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ chat.Store = (*Store)(nil)

// Store is a chat.Store on a PostgreSQL database.
type Store struct {
	pool *pgxpool.Pool
	// blobs is the pool of the blob store (Blobs): as large as pool, and
	// apart from it, so that uploads, which hold a connection as long as
	// their client takes to send, never keep the chat's queries waiting.
	// It connects only when blobs are used.
	blobs *pgxpool.Pool
}

// Options tune a Store.
type Options struct {
	// Timeout bounds each call of the store, the wait for a pooled
	// connection and a new connection's dial included: past it the call
	// ends EUNAVAILABLE. 0 is DefaultTimeout. A dsn's connect_timeout, when
	// it gives one, bounds dials alone.
	Timeout time.Duration
	// Logger gets the database's outage lines (see Guarded); nil
	// discards them.
	Logger *slog.Logger
}

// Open connects to the database at dsn (a postgres:// URL or a key=value
// string, as pgx parses them; pool_max_conns and the like apply), applies
// pending migrations and returns the store, guarded (see Guarded).
func Open(ctx context.Context, dsn string, opts Options) (*Guarded, error) {
	g := newGuard(opts)
	s, err := open(ctx, dsn, func(c *pgxpool.Config) {
		// A dial that hangs (packets dropped) fails at the deadline
		// rather than at the kernel's TCP timeout, minutes later.
		if c.ConnConfig.ConnectTimeout == 0 {
			c.ConnConfig.ConnectTimeout = g.Timeout()
		}
	})
	if err != nil {
		return nil, err
	}
	return newGuarded(s, g), nil
}

// open is Open with a hook that may change the pool's configuration before
// it connects, so tests can choose a schema and see every statement.
func open(ctx context.Context, dsn string, configure func(*pgxpool.Config)) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// pgx scans timestamptz in the local zone; the store hands out UTC, as
	// the SQLite store does.
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{
			Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	blobCfg := cfg.Copy()
	blobCfg.MinConns = 0
	blobs, err := pgxpool.NewWithConfig(ctx, blobCfg)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &Store{pool: pool, blobs: blobs}, nil
}

// migrate applies pending migrations. Goose records them in
// goose_db_version, so a second start applies nothing; an advisory lock
// makes nodes that start together take turns.
func migrate(ctx context.Context, pool *pgxpool.Pool) (err error) {
	// Retry the lock every second for up to five minutes, rather than
	// goose's default of every five seconds.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	if err != nil {
		return fmt.Errorf("migration lock: %w", err)
	}
	db := stdlib.OpenDBFromPool(pool)
	defer func() { err = errors.Join(err, db.Close()) }()
	provider, err := newProvider(db, goose.WithSessionLocker(locker))
	if err != nil {
		return err
	}
	if _, err := provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

// newProvider returns the goose provider of every migration: the SQL
// files and the Go ones.
func newProvider(db *sql.DB, opts ...goose.ProviderOption) (*goose.Provider, error) {
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return nil, err
	}
	opts = append(opts, goose.WithGoMigrations(
		goose.NewGoMigration(7, &goose.GoFunc{RunTx: backfillSearch}, nil),
	))
	p, err := goose.NewProvider(goose.DialectPostgres, db, fsys, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// Close closes every connection of the pool, waiting for those in use to
// be released.
func (s *Store) Close() {
	s.pool.Close()
	s.blobs.Close()
}

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.pool.Ping(ctx)
}

// querier is what *pgxpool.Pool and pgx.Tx have in common.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// isUnique reports whether err is a violation of a UNIQUE or PRIMARY KEY
// constraint, and of the named one when constraint is not empty.
func isUnique(err error, constraint string) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505" && (constraint == "" || e.ConstraintName == constraint)
}

// isDeadlock reports whether err is PostgreSQL ending a transaction to
// break a deadlock (40P01): the other transaction goes on, and this one
// may be run again.
func isDeadlock(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "40P01"
}
