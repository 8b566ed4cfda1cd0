// Command parley runs the Parley chat server.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/hub"
	"github.com/parleychat/parley/internal/imaging"
	"github.com/parleychat/parley/internal/password"
	"github.com/parleychat/parley/internal/sqlite"
	"github.com/parleychat/parley/internal/web"
	goredis "github.com/redis/go-redis/v9"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args, os.Getenv, os.Stdout, os.Stderr)
	if code := exitCode(err, os.Stderr); code != 0 {
		stop()
		os.Exit(code)
	}
}

// exitCode is the process's exit status after run returned err, which it
// reports on stderr: 0 for success and for -h (the usage was the answer),
// 1 for any error.
func exitCode(err error, stderr io.Writer) int {
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return 0
	}
	_, _ = fmt.Fprintln(stderr, "parley:", err) // nowhere else to report it
	return 1
}

// config is the server's configuration, from flags and their environment
// variable twins.
type config struct {
	addr            string
	db              string
	origins         string
	secureCookies   bool
	logFormat       string
	logLevel        slog.Level
	shutdownTimeout time.Duration
	sessionIdle     time.Duration
	sessionLifetime time.Duration
	wsTimeout       time.Duration
	demo            bool
	messageRate     float64
	messageBurst    int
	typingRate      float64
	typingBurst     int
	registerPerHour float64
	readRate        float64
	readBurst       int
	convRate        float64
	convBurst       int
	listRate        float64
	listBurst       int
	searchRate      float64
	searchBurst     int
	loginAddrFails  int
	loginUserFails  int
	maxConns        int
	trustedProxies  string
	headerTimeout   time.Duration
	redis           string
	redisPrefix     string
	groupCommit     bool
	debugAddr       string
	metricsAddr     string
	hashConcurrency int
	maxGroupMembers int
	registration    string
	dbTimeout       time.Duration
	redisTimeout    time.Duration
	presenceTTL     time.Duration
	retention       time.Duration
	attachmentsDir  string
	maxUpload       sizeFlag
	uploadRate      float64
	uploadBurst     int
	uploadBudget    sizeFlag
}

// parseFlags reads the configuration. Each flag's environment twin
// (PARLEY_ plus the flag's name upper-cased, '-' as '_') gives its default.
func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet(filepath.Base(args[0]), flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.addr, "addr", "localhost:8080", "address to listen on: host:port; :8080 listens on every interface")
	fs.StringVar(&cfg.db, "db", "parley.db", "SQLite database file, or a PostgreSQL postgres:// URL or key/value connection string (host=… dbname=…)")
	fs.StringVar(&cfg.debugAddr, "debug-addr", "", "serve Go's pprof profiles on this address (for example 127.0.0.1:6060); keep it private")
	fs.StringVar(&cfg.metricsAddr, "metrics-addr", "", "serve Prometheus metrics at /metrics on this address (for example 127.0.0.1:9464); off when empty; keep it private")
	fs.BoolVar(&cfg.groupCommit, "group-commit", true, "commit concurrent sends together, one transaction (one fsync, one round trip) for many; false commits each alone, for comparison")
	fs.StringVar(&cfg.redisPrefix, "redis-prefix", "parley:", "start of every Redis key and channel, so that deployments can share a Redis")
	fs.StringVar(&cfg.attachmentsDir, "attachments-dir", "", "directory for the bytes of attachments; by default beside the SQLite file (parley.db → parley-attachments), and in the database itself on PostgreSQL (every node sees every file)")
	cfg.maxUpload = chat.DefaultMaxUpload
	fs.Var(&cfg.maxUpload, "max-upload", "the largest file one upload takes: 25MiB, 500KB, or bytes")
	fs.Float64Var(&cfg.uploadRate, "upload-rate", 0.2, "files a user may upload per second, sustained")
	fs.IntVar(&cfg.uploadBurst, "upload-burst", 20, "files a user may upload at once")
	cfg.uploadBudget = 2 << 30
	fs.Var(&cfg.uploadBudget, "upload-budget", "bytes a user may upload a day, all at once or spread over it (2GiB, 500MB); at least -max-upload")
	fs.Var((*retentionFlag)(&cfg.retention), "retention", "erase text messages older than this (for example 720h or 90d), in small batches in the background, leaving tombstones; 0 keeps them for ever")
	fs.DurationVar(&cfg.presenceTTL, "presence-ttl", 60*time.Second, "with -redis: the longest the users of a node that dies still show online: within it the surviving nodes show them offline to their contacts and tell those to catch up (a node's claims last 3/4 of it, renewed every quarter)")
	fs.DurationVar(&cfg.dbTimeout, "db-timeout", 5*time.Second, "the longest one database call may take, waits for a connection or a lock included; past it the request gets 503 unavailable")
	fs.DurationVar(&cfg.redisTimeout, "redis-timeout", 2*time.Second, "the longest a Redis dial, read, write or wait for a pooled connection may take")
	fs.StringVar(&cfg.redis, "redis", "", "redis:// URL: carry events, presence, rate limits and login throttling across nodes")
	fs.StringVar(&cfg.origins, "origins", "", "comma-separated extra origins (scheme://host[:port]) allowed to make state-changing requests and open WebSockets")
	fs.BoolVar(&cfg.secureCookies, "secure-cookies", false, "mark the session cookie Secure (serve over HTTPS)")
	fs.StringVar(&cfg.logFormat, "log-format", "text", "log format: text or json")
	fs.TextVar(&cfg.logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn or error")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long in-flight requests may take to finish at shutdown")
	fs.DurationVar(&cfg.sessionIdle, "session-idle", 7*24*time.Hour, "end sessions unused for this long (at least 1s)")
	fs.DurationVar(&cfg.sessionLifetime, "session-lifetime", 30*24*time.Hour, "end every session this long after login (at least 1s)")
	fs.BoolVar(&cfg.demo, "demo", false, "create three demo accounts (passwords in the log) with a conversation going")
	fs.Float64Var(&cfg.messageRate, "message-rate", 5, "messages a user may send per second, sustained")
	fs.IntVar(&cfg.messageBurst, "message-burst", 20, "messages a user may send at once")
	fs.Float64Var(&cfg.typingRate, "typing-rate", 2, "typing events a user may send per second, sustained")
	fs.IntVar(&cfg.typingBurst, "typing-burst", 10, "typing events a user may send at once")
	fs.Float64Var(&cfg.registerPerHour, "register-rate", 10, "accounts one client address may create per hour (a burst of as many)")
	fs.Float64Var(&cfg.readRate, "read-rate", 20, "read cursors (read frames, POST …/read) a user may move per second, sustained")
	fs.IntVar(&cfg.readBurst, "read-burst", 100, "read cursors a user may move at once")
	fs.Float64Var(&cfg.convRate, "conversation-rate", 0.5, "conversations a user may start per second, sustained")
	fs.IntVar(&cfg.convBurst, "conversation-burst", 30, "conversations a user may start at once")
	fs.Float64Var(&cfg.listRate, "list-rate", 10, "people searches and conversation list pages a user may ask for per second, sustained")
	fs.IntVar(&cfg.listBurst, "list-burst", 50, "people searches and conversation list pages a user may ask for at once")
	fs.Float64Var(&cfg.searchRate, "search-rate", 2, "message searches a user may run per second, sustained")
	fs.IntVar(&cfg.searchBurst, "search-burst", 20, "message searches a user may run at once")
	fs.IntVar(&cfg.loginAddrFails, "login-address-failures", 100, "failed logins one client address may make in 15 minutes, over every account, before it must wait (2 s, doubling to 15 min)")
	fs.IntVar(&cfg.loginUserFails, "login-account-failures", 1000, "failed logins an account may take in an hour from addresses it never signed in from; past it they wait an hour, and it is logged as an attack")
	fs.IntVar(&cfg.maxGroupMembers, "max-group-members", chat.DefaultMaxGroupMembers, "the most members a group may have, its creator included (at least 2)")
	fs.StringVar(&cfg.registration, "registration", string(chat.RegistrationOpen), "who may register: open (anyone), invite (with an admin's invitation link) or closed (nobody; parley admin create-user makes accounts)")
	fs.IntVar(&cfg.maxConns, "max-conns-per-user", 20, "WebSockets one user may hold open at once: over every node with -redis (each node alone while Redis is away), on this node without; 0 sets no cap")
	fs.StringVar(&cfg.trustedProxies, "trusted-proxies", "", "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For gives the client address")
	fs.DurationVar(&cfg.headerTimeout, "read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
	fs.DurationVar(&cfg.wsTimeout, "ws-timeout", 60*time.Second, "drop a WebSocket peer that answers nothing, not even a ping, for this long")
	fs.IntVar(&cfg.hashConcurrency, "hash-concurrency", runtime.GOMAXPROCS(0), "password hashes (19 MiB each) that may run at once; 4 times as many wait, and further logins and sign-ups get 503")

	fs.VisitAll(func(f *flag.Flag) {
		env := envName(f.Name)
		f.Usage += " (env " + env + ")"
	})
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", envName(f.Name), v, err)
			}
		}
	})
	if envErr != nil {
		return config{}, envErr
	}
	fs.Usage = func() {
		_, _ = fmt.Fprintf(fs.Output(), "Usage of %s:\n%s", fs.Name(), subcommandUsage) // the usage's own writer reports nothing either
		fs.PrintDefaults()
	}
	if err := fs.Parse(args[1:]); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if err := checkConfig(cfg, flagSource(fs, getenv)); err != nil {
		return config{}, err
	}
	return cfg, nil
}

// flagSource returns what names a flag in an error: -name when the
// command line set it (or nothing did), its environment variable when
// that set it, so that the operator looks in the right place.
func flagSource(fs *flag.FlagSet, getenv func(string) string) func(name string) string {
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })
	return func(name string) string {
		if !onCommandLine[name] && getenv(envName(name)) != "" {
			return envName(name)
		}
		return "-" + name
	}
}

// checkConfig refuses values that parse but make no sense, naming each
// by src, before anything is opened: a wrong setting is reported before
// the database is created or migrated and before logging starts.
func checkConfig(cfg config, src func(name string) string) error {
	durations := []struct {
		name     string
		value    time.Duration
		min      time.Duration
		positive bool // any positive value will do
	}{
		{name: "session-idle", value: cfg.sessionIdle, min: time.Second},
		{name: "session-lifetime", value: cfg.sessionLifetime, min: time.Second},
		{name: "ws-timeout", value: cfg.wsTimeout, min: time.Second},
		{name: "presence-ttl", value: cfg.presenceTTL, min: time.Second},
		{name: "shutdown-timeout", value: cfg.shutdownTimeout, positive: true},
		{name: "read-header-timeout", value: cfg.headerTimeout, positive: true},
		{name: "db-timeout", value: cfg.dbTimeout, positive: true},
		{name: "redis-timeout", value: cfg.redisTimeout, positive: true},
	}
	for _, d := range durations {
		if d.positive && d.value <= 0 {
			return fmt.Errorf("%s must be positive, not %v", src(d.name), d.value)
		}
		if d.value < d.min {
			return fmt.Errorf("%s must be at least %v, not %v", src(d.name), d.min, d.value)
		}
	}
	if cfg.uploadBudget < cfg.maxUpload {
		return fmt.Errorf("%s must be at least %s (-max-upload), not %s", src("upload-budget"), cfg.maxUpload.String(), cfg.uploadBudget.String())
	}
	rates := []struct {
		name  string
		value float64
	}{
		{"message-rate", cfg.messageRate}, {"typing-rate", cfg.typingRate}, {"register-rate", cfg.registerPerHour},
		{"read-rate", cfg.readRate}, {"conversation-rate", cfg.convRate}, {"list-rate", cfg.listRate}, {"search-rate", cfg.searchRate},
		{"upload-rate", cfg.uploadRate},
	}
	for _, r := range rates {
		// NaN fails every comparison, so it is refused with the rest.
		if !(r.value > 0) || math.IsInf(r.value, 0) {
			return fmt.Errorf("%s must be a positive number, not %v", src(r.name), r.value)
		}
	}
	counts := []struct {
		name       string
		value, min int
	}{
		{"message-burst", cfg.messageBurst, 1}, {"typing-burst", cfg.typingBurst, 1}, {"read-burst", cfg.readBurst, 1},
		{"conversation-burst", cfg.convBurst, 1}, {"list-burst", cfg.listBurst, 1}, {"search-burst", cfg.searchBurst, 1}, {"upload-burst", cfg.uploadBurst, 1},
		{"login-address-failures", cfg.loginAddrFails, 1}, {"login-account-failures", cfg.loginUserFails, 1},
		{"max-group-members", cfg.maxGroupMembers, 2}, {"hash-concurrency", cfg.hashConcurrency, 1},
		// 0 is no cap, as its usage says.
		{"max-conns-per-user", cfg.maxConns, 0},
	}
	for _, c := range counts {
		if c.value < c.min {
			return fmt.Errorf("%s must be at least %d, not %d", src(c.name), c.min, c.value)
		}
	}
	if _, err := chat.ParseRegistrationMode(cfg.registration); err != nil {
		return fmt.Errorf("%s: %w", src("registration"), err)
	}
	if _, _, err := storeDSN(cfg.db); err != nil {
		// storeDSN names the flag; the variable may have set it.
		return fmt.Errorf("%s: %s", src("db"), strings.TrimPrefix(err.Error(), "-db: "))
	}
	// Checked here as well as where they are used, so that a wrong one
	// is reported before the database is opened (and migrated).
	if err := web.CheckOrigins(splitList(cfg.origins)); err != nil {
		return fmt.Errorf("%s: %w", src("origins"), err)
	}
	if _, err := parsePrefixes(cfg.trustedProxies); err != nil {
		return fmt.Errorf("%s: %w", src("trusted-proxies"), err)
	}
	if cfg.logFormat != "text" && cfg.logFormat != "json" {
		return fmt.Errorf("%s must be text or json, not %q", src("log-format"), cfg.logFormat)
	}
	if cfg.redis != "" {
		if _, err := goredis.ParseURL(cfg.redis); err != nil {
			// url.Parse's error quotes the URL, password and all.
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err
			}
			return fmt.Errorf("%s %s: %w", src("redis"), redactURL(cfg.redis), err)
		}
	}
	return checkListenAddrs(cfg, src)
}

// checkListenAddrs refuses a listening address that is not host:port with
// a valid port, and two listeners on one port: found here rather than when
// the second listener fails, after the database was opened and migrated.
func checkListenAddrs(cfg config, src func(name string) string) error {
	type listener struct{ name, addr, host, port string }
	var ls []listener
	for _, l := range []struct{ name, addr string }{{"addr", cfg.addr}, {"metrics-addr", cfg.metricsAddr}, {"debug-addr", cfg.debugAddr}} {
		if l.addr == "" && l.name != "addr" {
			continue // off
		}
		host, port, err := net.SplitHostPort(l.addr)
		if err != nil {
			return fmt.Errorf("%s %q: want host:port (such as localhost:8080, or :8080 for every interface): %w", src(l.name), l.addr, err)
		}
		n, err := net.LookupPort("tcp", port)
		if port == "" || err != nil {
			return fmt.Errorf("%s %q: %q is not a port: want a number from 0 to 65535", src(l.name), l.addr, port)
		}
		ls = append(ls, listener{l.name, l.addr, host, strconv.Itoa(n)})
	}
	for i, a := range ls {
		for _, b := range ls[:i] {
			// Port 0 picks a free port; an empty or unspecified host
			// listens on every interface, so it takes the port on all.
			if a.port != "0" && a.port == b.port && (a.host == b.host || anyHost(a.host) || anyHost(b.host)) {
				return fmt.Errorf("%s %q and %s %q both listen on port %s: give each its own port", src(b.name), b.addr, src(a.name), a.addr, a.port)
			}
		}
	}
	return nil
}

// anyHost reports whether host, of a listening address, means every
// interface.
func anyHost(host string) bool {
	if host == "" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsUnspecified()
}

// createPrivateDB creates the SQLite file db names, readable and writable
// by its owner only, when there is none yet: it holds password and
// session-token hashes, and SQLite would create it 0644 (less the umask).
// SQLite gives the -wal and -shm files the database file's mode. A
// PostgreSQL db, or a file that exists, is left as it is.
func createPrivateDB(db string) error {
	kind, path, err := storeDSN(db)
	if err != nil || kind != "sqlite" {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		// It exists, or cannot be made here: opening it reports the
		// latter, as it would have without this.
		return nil
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var items []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

// parsePrefixes reads addresses and CIDR prefixes; an address is a
// prefix of its full length.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var prefixes []netip.Prefix
	for _, item := range splitList(s) {
		if p, err := netip.ParsePrefix(item); err == nil {
			prefixes = append(prefixes, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(item)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a prefix", item)
		}
		prefixes = append(prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return prefixes, nil
}

// hashQueuePerSlot is how many password hashes may wait per one that may
// run: a queue that drains well within a second (a hash takes tens of
// milliseconds), beyond which a client is better told to come back (503
// with Retry-After) than kept waiting.
const hashQueuePerSlot = 4

func envName(flagName string) string {
	return "PARLEY_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// run carries out a subcommand (see subcommandNamed), or starts the server
// and serves until ctx ends, then shuts down gracefully: it stops accepting, lets in-flight requests finish within the
// shutdown timeout, and closes the database.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 1 {
		if cmd := subcommandNamed(args[1]); cmd != nil {
			return cmd(ctx, args[1:], getenv, stdout, stderr)
		}
	}
	var usage bytes.Buffer
	cfg, err := parseFlags(args, getenv, &usage)
	if err != nil {
		// -h asked for the usage: it goes to stdout. A mistake's message
		// and the usage go to stderr.
		out := stderr
		if errors.Is(err, flag.ErrHelp) {
			out = stdout
		}
		if _, werr := out.Write(usage.Bytes()); werr != nil {
			return errors.Join(err, werr)
		}
		return err
	}
	opts := &slog.HandlerOptions{Level: cfg.logLevel}
	var logger *slog.Logger
	if cfg.logFormat == "json" {
		logger = slog.New(slog.NewJSONHandler(stdout, opts))
	} else {
		logger = slog.New(slog.NewTextHandler(stdout, opts))
	}
	if err := serve(ctx, cfg, logger); err != nil {
		// In the log too, where a collector of JSON lines sees it; main
		// also prints it on stderr.
		logger.Error("stopped on an error", "err", err)
		return err
	}
	return nil
}

// serve runs the server as cfg says until ctx ends.
func serve(ctx context.Context, cfg config, logger *slog.Logger) error {
	// URLs are logged with their secrets (passwords, tokens) redacted.
	logger.Info("starting", "db", redactURL(cfg.db), "redis", redactURL(cfg.redis))
	if err := createPrivateDB(cfg.db); err != nil {
		return err
	}
	store, sessions, closeStore, err := openStore(ctx, cfg.db, sqlite.Options{Timeout: cfg.dbTimeout, Logger: logger})
	if err != nil {
		return err
	}
	defer func() {
		if err := closeStore(); err != nil {
			logger.Error("close database", "err", err)
		}
	}()
	blobs, err := openBlobs(cfg.attachmentsDir, cfg.db, store)
	if err != nil {
		return err
	}
	bp, err := openBackplane(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer func() {
		if err := bp.close(); err != nil {
			logger.Warn("close redis", "err", err)
		}
	}()
	// Background work runs until shutdown and is joined before the
	// database closes. The hub stops first, so that the connections it
	// closes can still reach the store, broker and presence on their way
	// out.
	bgCtx, stopBackground := context.WithCancel(context.Background())
	hubCtx, stopHub := context.WithCancel(context.Background())
	var wg, hubWG sync.WaitGroup
	stop := func() {
		stopHub()
		hubWG.Wait()
		stopBackground()
		wg.Wait()
	}
	defer stop()
	if cfg.redis == "" && isPostgres(cfg.db) {
		logger.Warn("running as a single node: cross-node delivery, presence and limits need -redis")
	}

	metrics := newMetrics(cfg.metricsAddr, store) // nil when -metrics-addr is off
	svc, err := newService(cfg, store, blobs, bp, serviceMetrics(metrics), logger)
	if err != nil {
		return err
	}
	if cfg.demo {
		if err := seedDemo(ctx, svc, logger); err != nil {
			return err
		}
	}
	// Each node sweeps for users whose claims lapsed (their node died):
	// nothing when presence is this process's alone.
	wg.Go(func() { svc.RunPresenceSweep(bgCtx, cfg.presenceTTL) })
	// The bytes of deleted messages' files and of uploads never sent.
	wg.Go(func() { svc.RunAttachmentSweep(bgCtx) })
	if cfg.retention > 0 {
		logger.Info("retention on: older text messages are erased", "keep", cfg.retention)
		wg.Go(func() { svc.RunRetention(bgCtx, chat.Retention{Keep: cfg.retention}) })
	}
	// Pings go out three times per timeout, so a live peer always answers
	// in time.
	connections := hub.New(logger, bp.broker, hub.Config{Encode: web.EncodeEvent, PingInterval: cfg.wsTimeout / 3})
	handler, err := newHandler(cfg, store, sessions, svc, bp, connections, logger)
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer func() { _ = ln.Close() }() // for a return before serving; Shutdown closes it otherwise
	srv := newHTTPServer(cfg, handler, logger)

	wg.Go(func() { sessions.Run(bgCtx, 5*time.Minute, logger) })
	for _, r := range bp.runners {
		wg.Go(func() { r(bgCtx) })
	}
	// Users whose events the broker refused after a commit get a resync
	// once it takes events again.
	wg.Go(func() { svc.Run(bgCtx) })
	hubWG.Go(func() { connections.Run(hubCtx) })

	if cfg.debugAddr != "" {
		if err := serveProfiles(bgCtx, &wg, cfg.debugAddr, logger); err != nil {
			return err
		}
	}
	if metrics != nil {
		if err := serveMetrics(bgCtx, &wg, cfg.metricsAddr, metrics, connections, logger); err != nil {
			return err
		}
	}

	logger.Info("listening", "addr", ln.Addr().String(), "db", redactURL(cfg.db), "redis", redactURL(cfg.redis))
	return serveUntilDone(ctx, srv, ln, cfg.shutdownTimeout, stop, logger)
}

// newHTTPServer is the public port's server, with its time limits.
func newHTTPServer(cfg config, handler http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.headerTimeout,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// serveUntilDone serves on ln until ctx ends, then shuts down gracefully:
// in-flight requests get up to timeout to finish, then stop ends the
// WebSockets (not HTTP requests once upgraded) and the background work.
func serveUntilDone(ctx context.Context, srv *http.Server, ln net.Listener, timeout time.Duration, stop func(), logger *slog.Logger) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", "timeout", timeout)
	shutdownCtx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) {
		logger.Error("serve", "err", serr)
	}
	stop()
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// newService makes the chat service over store and the backplane bp.
func newService(cfg config, store database, blobs chat.BlobStore, bp *backplane, metrics chat.Metrics, logger *slog.Logger) (*chat.Service, error) {
	return chat.NewService(chat.ServiceConfig{
		Store: store,
		// Every hash and verification goes through the bound: argon2id
		// holds 19 MiB each, so unbounded logins would exhaust memory.
		Hasher:   password.Bounded(password.Default(), cfg.hashConcurrency, hashQueuePerSlot*cfg.hashConcurrency),
		Broker:   bp.broker,
		Presence: bp.presence,
		Logger:   logger,
		Limits:   bp.limits,
		// A group's cap, its creator included.
		MaxGroupMembers: cfg.maxGroupMembers,
		Registration:    chat.RegistrationMode(cfg.registration),
		MaxBatch:        batchSize(cfg.groupCommit),
		Metrics:         metrics,
		Blobs:           blobs,
		Images:          imaging.Images{},
		MaxUpload:       int64(cfg.maxUpload),
	})
}

// newHandler makes the web server: the pages, the API and the WebSockets.
func newHandler(cfg config, store database, sessions sessionStore, svc *chat.Service, bp *backplane, connections *hub.Hub, logger *slog.Logger) (http.Handler, error) {
	proxies, err := parsePrefixes(cfg.trustedProxies)
	if err != nil {
		return nil, fmt.Errorf("-trusted-proxies: %w", err)
	}
	checks := map[string]func(context.Context) error{"database": store.Writable}
	if bp.ping != nil {
		checks["redis"] = bp.ping
	}
	return web.NewServer(web.Config{
		ReadyChecks:        checks,
		Logger:             logger,
		Service:            svc,
		Sessions:           sessions,
		SecureCookies:      cfg.secureCookies,
		TrustedOrigins:     splitList(cfg.origins),
		TrustedProxies:     proxies,
		MaxConnsPerUser:    cfg.maxConns,
		Connections:        bp.connections,
		SessionIdleTimeout: cfg.sessionIdle,
		SessionLifetime:    cfg.sessionLifetime,
		Hub:                connections,
		WebSocketTimeout:   cfg.wsTimeout,
		MaxUpload:          int64(cfg.maxUpload),
	})
}

// serveProfiles serves Go's pprof profiles on addr, in a goroutine of wg,
// until ctx ends.
func serveProfiles(ctx context.Context, wg *sync.WaitGroup, addr string, logger *slog.Logger) error {
	dbg, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-debug-addr: %w", err)
	}
	debug := &http.Server{Handler: profiles(), ReadHeaderTimeout: 10 * time.Second}
	wg.Go(func() {
		if err := debug.Serve(dbg); !errors.Is(err, http.ErrServerClosed) {
			logger.Error("profiles server", "err", err)
		}
	})
	// Close ends Serve, whose error is logged above.
	context.AfterFunc(ctx, func() { _ = debug.Close() })
	logger.Info("profiles", "addr", dbg.Addr().String())
	return nil
}

// batchSize is the group commit's largest batch: chat.DefaultMaxBatch, or
// 1 (each send alone) with group commit off.
func batchSize(groupCommit bool) int {
	if groupCommit {
		return chat.DefaultMaxBatch
	}
	return 1
}
