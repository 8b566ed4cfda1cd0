package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/memory"
	"github.com/parleychat/parley/internal/postgres"
	"github.com/parleychat/parley/internal/redis"
	"github.com/parleychat/parley/internal/sqlite"
)

// connectionLease is how long a node's place for one WebSocket in its
// user's cluster-wide count lasts without a heartbeat: a crashed node's
// places free themselves within it.
const connectionLease = 60 * time.Second

// sessionStore is a store for scs that cleans up after itself.
type sessionStore interface {
	scs.CtxStore
	Run(ctx context.Context, interval time.Duration, logger *slog.Logger)
}

// database is what the server needs of a store.
type database interface {
	chat.Store
	// Writable reports whether the database can take a write now: what
	// /readyz asks of it.
	Writable(ctx context.Context) error
}

// isPostgres reports whether dsn names a PostgreSQL database: a
// postgres:// or postgresql:// URL, its scheme in any letter case, or a
// keyword/value connection string ("host=… dbname=…"), both of which pgx
// accepts.
func isPostgres(dsn string) bool {
	kind, _, err := storeDSN(dsn)
	return err == nil && kind == "postgres"
}

// storeDSN says which store dsn, the -db value, names ("sqlite" or
// "postgres") and returns it as that store is to be given it: a
// PostgreSQL URL with its scheme in lower case, as pgx recognises it. A
// URL of any other scheme is refused, never taken for a file name.
func storeDSN(dsn string) (kind, normalized string, err error) {
	if scheme, rest, ok := strings.Cut(dsn, "://"); ok && isScheme(scheme) {
		switch s := strings.ToLower(scheme); s {
		case "postgres", "postgresql":
			return "postgres", s + "://" + rest, nil
		default:
			return "", "", fmt.Errorf("-db: %q URLs are not supported: give a SQLite file path, a postgres:// URL or a PostgreSQL key/value connection string", s)
		}
	}
	if isKeyValue(dsn) {
		return "postgres", dsn, nil
	}
	return "sqlite", dsn, nil
}

// isScheme reports whether s is a URL scheme (RFC 3986 §3.1).
func isScheme(s string) bool {
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// keyValueRE matches a PostgreSQL keyword/value connection string: one of
// libpq's connection keywords followed by "=", first or after a space.
var keyValueRE = regexp.MustCompile(`(?i)(^|\s)(host|hostaddr|port|dbname|user|password|passfile|sslmode|sslcert|sslkey|sslrootcert|sslpassword|sslnegotiation|connect_timeout|application_name|options|service|servicefile|target_session_attrs|client_encoding|krbsrvname|channel_binding|require_auth)\s*=`)

// isKeyValue reports whether s is a PostgreSQL keyword/value connection
// string rather than a file path.
func isKeyValue(s string) bool {
	return keyValueRE.MatchString(s)
}

// openStore opens the SQLite file or PostgreSQL database dsn names.
// The returned func closes it.
func openStore(ctx context.Context, dsn string, opts sqlite.Options) (database, sessionStore, func() error, error) {
	kind, dsn, err := storeDSN(dsn)
	if err != nil {
		return nil, nil, nil, err
	}
	if kind == "postgres" {
		s, err := postgres.Open(ctx, dsn, postgres.Options{Timeout: opts.Timeout, Logger: opts.Logger})
		if err != nil {
			return nil, nil, nil, err
		}
		return s, s.Sessions(), func() error { s.Close(); return nil }, nil
	}
	s, err := sqlite.Open(ctx, dsn, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, s.Sessions(), s.Close, nil
}

// backplane is how this node reaches the others: in process when it is
// alone, through Redis when it is one of several.
type backplane struct {
	broker   chat.Broker
	presence chat.Presence
	limits   chat.Limits
	// connections counts each user's WebSockets for -max-conns-per-user:
	// over the cluster with Redis, in this process without.
	connections chat.ConnectionCounter
	// runners run until their context ends.
	runners []func(context.Context)
	// ping checks the connection and this node's subscription, when
	// there is one.
	ping  func(context.Context) error
	close func() error
}

func openBackplane(ctx context.Context, cfg config, logger *slog.Logger) (*backplane, error) {
	policy := chat.DefaultLoginPolicy()
	policy.Address.Free = cfg.loginAddrFails
	policy.Account.Free = cfg.loginUserFails
	local := func() *chat.Limits {
		return &chat.Limits{
			Messages:      memory.NewLimiter(cfg.messageRate, cfg.messageBurst),
			Typing:        memory.NewLimiter(cfg.typingRate, cfg.typingBurst),
			Reads:         memory.NewLimiter(cfg.readRate, cfg.readBurst),
			Conversations: memory.NewLimiter(cfg.convRate, cfg.convBurst),
			Lists:         memory.NewLimiter(cfg.listRate, cfg.listBurst),
			Searches:      memory.NewLimiter(cfg.searchRate, cfg.searchBurst),
			Uploads:       memory.NewLimiter(cfg.uploadRate, cfg.uploadBurst),
			UploadBytes:   memory.NewLimiter(uploadMiBPerSecond(cfg), uploadMiB(cfg)),
		}
	}
	if cfg.redis == "" {
		limits := local()
		limits.Registrations = memory.NewLimiter(cfg.registerPerHour/3600, max(1, int(cfg.registerPerHour)))
		limits.Logins = memory.NewThrottle()
		limits.LoginPolicy = policy
		return &backplane{
			broker:      memory.NewBroker(),
			presence:    memory.NewPresence(),
			limits:      *limits,
			connections: memory.NewConnections(),
			close:       func() error { return nil },
		}, nil
	}
	redis.RouteLibraryLogs(logger)
	c, err := redis.Open(ctx, cfg.redis, cfg.redisPrefix, logger, cfg.redisTimeout)
	if err != nil {
		return nil, err
	}
	broker := c.Broker()
	presence := c.Presence(chat.PresenceClaimTTL(cfg.presenceTTL))
	connections := c.Connections(connectionLease)
	return &backplane{
		broker:      broker,
		presence:    presence,
		connections: connections,
		limits: chat.Limits{
			Messages:      c.Limiter("messages", cfg.messageRate, cfg.messageBurst),
			Typing:        c.Limiter("typing", cfg.typingRate, cfg.typingBurst),
			Reads:         c.Limiter("reads", cfg.readRate, cfg.readBurst),
			Conversations: c.Limiter("conversations", cfg.convRate, cfg.convBurst),
			Lists:         c.Limiter("lists", cfg.listRate, cfg.listBurst),
			Searches:      c.Limiter("searches", cfg.searchRate, cfg.searchBurst),
			Uploads:       c.Limiter("uploads", cfg.uploadRate, cfg.uploadBurst),
			UploadBytes:   c.Limiter("upload-bytes", uploadMiBPerSecond(cfg), uploadMiB(cfg)),
			Registrations: c.Limiter("registrations", cfg.registerPerHour/3600, max(1, int(cfg.registerPerHour))),
			Logins:        c.Throttle("logins"),
			LoginPolicy:   policy,
			// Per-user budgets fall back to this node's own when Redis
			// is away; registrations and logins fail closed.
			Local: local(),
		},
		runners: []func(context.Context){
			broker.Run,
			func(ctx context.Context) { presence.Run(ctx, logger) },
			func(ctx context.Context) { connections.Run(ctx, logger) },
		},
		ping:  broker.ReadyCheck(ctx),
		close: c.Close,
	}, nil
}

// redacted stands in for a secret in a logged URL.
const redacted = "xxxxx"

// redactURL returns s, a URL about to be logged (the -db or -redis URL), with
// every secret in it replaced by xxxxx: the password of its userinfo
// (user:password@, RFC 3986 §3.2.1) and the value of each query parameter
// whose name holds "passw" (password, passwd), "pwd", "secret" or "token"
// in any letter case
// (postgres://…?password=…, ?sslpassword=…, ?auth_token=…). The rest is kept
// as written, in its order. A string that does not parse as a URL is logged
// only when it looks like a plain file name (no "://", nothing secret in
// it); else it is replaced whole. A PostgreSQL keyword/value connection
// string has the value of each such key replaced (password=xxxxx).
func redactURL(s string) string {
	if !strings.Contains(s, "://") && isKeyValue(s) {
		return redactKeyValue(s)
	}
	u, err := url.Parse(s)
	if err != nil {
		if strings.Contains(s, "://") || strings.Contains(s, "@") || sensitiveKey(s) {
			return "[unparsable URL, not logged]"
		}
		return s
	}
	changed := false
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), redacted)
		changed = true
	}
	if u.RawQuery != "" {
		params := strings.Split(u.RawQuery, "&")
		for i, p := range params {
			key, _, _ := strings.Cut(p, "=")
			if k, err := url.QueryUnescape(key); err == nil {
				key = k
			}
			if sensitiveKey(key) {
				params[i] = url.QueryEscape(key) + "=" + redacted
				changed = true
			}
		}
		u.RawQuery = strings.Join(params, "&")
	}
	if !changed {
		return s
	}
	return u.String()
}

// redactKeyValue returns s, a PostgreSQL keyword/value connection string
// (key=value key='quoted value' …, as pgx reads it), with the value of each
// key sensitiveKey names replaced by xxxxx and the rest as written. A
// string that does not parse is replaced whole.
func redactKeyValue(s string) string {
	const unparsable = "[unparsable connection string, not logged]"
	isSpace := func(c byte) bool { return strings.IndexByte(" \t\n\r\v\f", c) >= 0 }
	var out strings.Builder
	i := 0
	for i < len(s) {
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return unparsable
		}
		key := strings.TrimSpace(s[i : i+eq])
		out.WriteString(s[i : i+eq+1])
		i += eq + 1
		for i < len(s) && isSpace(s[i]) {
			out.WriteByte(s[i])
			i++
		}
		start := i
		if i < len(s) && s[i] == '\'' {
			i++
			for ; i < len(s) && s[i] != '\''; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			if i >= len(s) {
				return unparsable
			}
			i++ // the closing quote
		} else {
			for ; i < len(s) && !isSpace(s[i]); i++ {
				if s[i] == '\\' {
					i++
				}
			}
			if i > len(s) {
				return unparsable
			}
		}
		if sensitiveKey(key) {
			out.WriteString(redacted)
		} else {
			out.WriteString(s[start:i])
		}
		for i < len(s) && isSpace(s[i]) {
			out.WriteByte(s[i])
			i++
		}
	}
	return out.String()
}

// sensitiveKey reports whether a query parameter's name says its value is a
// secret.
func sensitiveKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range []string{"passw", "pwd", "secret", "token"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// profiles serves Go's runtime profiles (net/http/pprof) on a mux of its
// own, never on the public one.
func profiles() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
