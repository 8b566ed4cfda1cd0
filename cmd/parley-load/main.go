// Command parley-load is a load generator and benchmark client for Parley.
// It speaks only the public HTTP API and the WebSocket protocol: it signs
// up (or signs in) users, pairs them into direct conversations (or, with
// -groups, puts them in groups), opens WebSocket connections, sends
// messages at a given rate or as fast as acks allow, measures send→ack and
// send→deliver latency, and at the end verifies that every acked message
// reached every connected member (live, or by the catch-up a reconnect or
// a resync frame makes), in order, and is in the database; duplicates are
// counted, not failed.
//
// With -idle it only opens authenticated connections and holds them, for
// measuring the server's memory per connection.
//
// With -uploads it only uploads files, -upload-concurrency at once, for
// measuring the server's upload throughput and its memory meanwhile.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
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
	_, _ = fmt.Fprintln(stderr, "parley-load:", err) // nowhere else to report it
	return 1
}

// config is the load run's configuration, from flags and their environment
// variable twins (PARLEY_LOAD_ plus the flag's name).
type config struct {
	url             string // -url: one base URL, or several separated by commas
	users           int
	userOffset      int
	conns           int
	rate            float64
	window          int
	maxPending      int
	duration        time.Duration
	warmup          time.Duration
	drain           time.Duration
	bodySize        int
	bodyWords       bool
	jsonOut         bool
	idle            bool
	settle          time.Duration
	serverPID       int   // the first of serverPIDs: its RSS and open files are reported
	serverPIDs      []int // -server-pid: the server processes, whose CPU time is reported
	passwordPrefix  string
	prefix          string
	signupConc      int
	dialConc        int
	spreadSource    bool
	checkOrder      bool
	connectTimeout  time.Duration
	progress        bool
	maxConnsPerUser int
	sessions        string
	groups          int
	groupMembers    int
	groupSenders    int
	maxGroupMembers int
	uploads         int
	uploadSize      sizeFlag
	uploadConc      int
	uploadFile      string
	uploadSend      bool
	uploadTimeout   time.Duration
	rssInterval     time.Duration

	base  *url.URL        // the first of bases
	bases []*url.URL      // parsed url: users are spread over them round-robin
	given map[string]bool // flags set on the command line or by environment
}

// maxBody is the server's limit on a message body, in characters.
const maxBody = 4000

func parseFlags(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet(filepath.Base(args[0]), flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.url = "http://127.0.0.1:8080"
	fs.Var(&urlFlag{dst: &cfg.url}, "url", "base `URL` of the Parley server; repeat it (or give a comma list) for several nodes of a cluster: user i uses URL i mod their number, so a direct conversation's two members (and a group's) are on different nodes")
	fs.IntVar(&cfg.users, "users", 100, "number of users to sign up or sign in (direct mode: even, user 2i talks with 2i+1; group mode: -groups × -group-members, the default there)")
	fs.IntVar(&cfg.userOffset, "user-offset", 0, "index of the first user, so that several processes can use disjoint users")
	fs.IntVar(&cfg.conns, "conns", 200, "WebSocket connections to open, spread round-robin over the users (connection k belongs to user k mod users); group mode: at least one a member, the default there")
	fs.Float64Var(&cfg.rate, "rate", 1000, "total messages per second over all connections; 0 sends as fast as acks allow, -window unacked per connection")
	fs.IntVar(&cfg.window, "window", 8, "with -rate 0: unacked sends each connection keeps in flight")
	fs.IntVar(&cfg.maxPending, "max-pending", 1000, "with -rate > 0: unacked sends a connection may have before its scheduled sends are skipped")
	fs.DurationVar(&cfg.duration, "duration", 10*time.Second, "how long to send (after -warmup); with -idle, how long to hold the connections open")
	fs.DurationVar(&cfg.warmup, "warmup", 0, "send for this long before measuring; warm-up messages are verified but not counted in rates and latencies")
	fs.DurationVar(&cfg.drain, "drain", 15*time.Second, "after sending stops, how long to wait at most for outstanding acks and deliveries")
	fs.IntVar(&cfg.bodySize, "body-size", 64, "message body size in bytes (padded; at least the timestamp header, at most 4000)")
	fs.BoolVar(&cfg.bodyWords, "body-words", false, "pad bodies with English words instead of x's (text for the search index)")
	fs.BoolVar(&cfg.jsonOut, "json", false, "write the final report as JSON to stdout instead of text")
	fs.BoolVar(&cfg.idle, "idle", false, "idle mode: open -conns authenticated connections, send nothing, hold them for -duration")
	fs.DurationVar(&cfg.settle, "settle", 5*time.Second, "with -server-pid: wait this long after all connections are open (GC settles) before reading the server's RSS")
	fs.Var(&pidsFlag{dst: &cfg.serverPIDs}, "server-pid", "server process `PID`; repeat it (or give a comma list) for several nodes: reports the servers' CPU time over the measured window (utime+stime of /proc/PID/stat) per 1,000 acked messages and deliveries, and the first one's resident memory (VmRSS of /proc/PID/status) at the start and end (idle: once all connections are open)")
	fs.StringVar(&cfg.passwordPrefix, "password-prefix", "parley-load-", "passwords are this prefix followed by the username")
	fs.StringVar(&cfg.prefix, "prefix", "load", "username prefix: user i is named prefix+i")
	fs.IntVar(&cfg.signupConc, "signup-concurrency", 8, "sign-ups and sign-ins in flight at once (the server hashes passwords with argon2)")
	fs.IntVar(&cfg.dialConc, "dial-concurrency", 64, "WebSocket handshakes in flight at once")
	fs.BoolVar(&cfg.spreadSource, "spread-source", true, "when the server is at a 127.x.x.x address, spread WebSocket source addresses over 127.0.0.2-251 (one source address has only ~28k ephemeral ports)")
	fs.BoolVar(&cfg.checkOrder, "check-order", true, "fail the verification when a connection receives a conversation's messages out of seq order")
	fs.DurationVar(&cfg.connectTimeout, "connect-timeout", 2*time.Minute, "how long opening all connections may take")
	fs.BoolVar(&cfg.progress, "progress", true, "print a progress line to stderr every second")
	fs.StringVar(&cfg.sessions, "sessions", "", "JSON file of session cookies: users found there (and still signed in) skip the sign-in, so no password is hashed; written back after sign-in (one file per process)")
	fs.IntVar(&cfg.maxConnsPerUser, "max-conns-per-user", 20, "the server's -max-conns-per-user, to refuse a plan that needs more connections per user")
	fs.IntVar(&cfg.groups, "groups", 0, "group mode: this many groups of -group-members users each instead of direct conversations (0: direct mode)")
	fs.IntVar(&cfg.groupMembers, "group-members", 100, "group mode: members of each group, its creator included; -users defaults to -groups × -group-members")
	fs.IntVar(&cfg.groupSenders, "group-senders", 10, "group mode: members of each group who send (the first ones; at most -group-members when not given); every member's connections receive")
	fs.IntVar(&cfg.maxGroupMembers, "max-group-members", 1000, "the server's -max-group-members, to refuse a plan with bigger groups")

	cfg.uploadSize = 1 << 20
	fs.IntVar(&cfg.uploads, "uploads", 0, "upload mode: make this many uploads (raw bodies to POST /api/v1/conversations/{id}/attachments), spread over the users' direct conversations, and report MiB/s, each upload's latency and, with -server-pid, the server's RSS before and at its peak; no WebSockets (0: not this mode)")
	fs.Var(&cfg.uploadSize, "upload-size", "upload mode: bytes of each upload, made on the fly (never held whole): 25MiB, 500KB, or bytes")
	fs.IntVar(&cfg.uploadConc, "upload-concurrency", 20, "upload mode: uploads in flight at once (at most -uploads); -users defaults to this, rounded up to even, so each upload in flight has a user of its own")
	fs.StringVar(&cfg.uploadFile, "upload-file", "", "upload mode: upload this file's bytes (an image, say) instead of generated ones; -upload-size is then its size")
	fs.BoolVar(&cfg.uploadSend, "upload-send", false, "upload mode: send a message carrying each upload after it (POST …/messages with attachment_ids)")
	fs.DurationVar(&cfg.uploadTimeout, "upload-timeout", 5*time.Minute, "upload mode: how long one upload may take")
	fs.DurationVar(&cfg.rssInterval, "rss-interval", 50*time.Millisecond, "upload mode with -server-pid: how often to read the server's RSS for its peak")

	fs.VisitAll(func(f *flag.Flag) { f.Usage += " (env " + envName(f.Name) + ")" })
	var envErr error
	cfg.given = map[string]bool{}
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s=%q: %w", envName(f.Name), v, err)
			}
			cfg.given[f.Name] = true
		}
	})
	if envErr != nil {
		return config{}, envErr
	}
	if err := fs.Parse(args[1:]); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	fs.Visit(func(f *flag.Flag) { cfg.given[f.Name] = true })
	return cfg, cfg.check()
}

// check validates the configuration and fills in derived fields.
func (cfg *config) check() error {
	cfg.bases = nil
	for _, raw := range strings.Split(cfg.url, ",") {
		raw = strings.TrimSpace(raw)
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("-url must be an http:// or https:// URL, not %q", raw)
		}
		u.Path = strings.TrimSuffix(u.Path, "/")
		cfg.bases = append(cfg.bases, u)
	}
	cfg.base = cfg.bases[0]
	cfg.serverPID = 0
	if len(cfg.serverPIDs) > 0 {
		cfg.serverPID = cfg.serverPIDs[0]
	}
	if err := cfg.checkGroups(); err != nil {
		return err
	}
	if cfg.uploads != 0 {
		return cfg.checkUploads()
	}
	switch {
	case cfg.users < 1:
		return errors.New("-users must be at least 1")
	case cfg.userOffset < 0:
		return errors.New("-user-offset must not be negative")
	case cfg.conns < 1:
		return errors.New("-conns must be at least 1")
	case cfg.duration <= 0:
		return errors.New("-duration must be positive")
	case cfg.warmup < 0 || cfg.drain < 0 || cfg.settle < 0:
		return errors.New("-warmup, -drain and -settle must not be negative")
	case cfg.signupConc < 1 || cfg.dialConc < 1:
		return errors.New("-signup-concurrency and -dial-concurrency must be at least 1")
	case len(cfg.passwordPrefix)+len(cfg.prefix)+1 < 8:
		return errors.New("-password-prefix plus the username must make passwords of at least 8 characters")
	}
	if !validPrefix(cfg.prefix) || len(cfg.prefix)+len(fmt.Sprint(cfg.userOffset+cfg.users)) > 32 {
		return fmt.Errorf("-prefix %q: usernames are 3-32 characters of a-z 0-9 _ . -", cfg.prefix)
	}
	perUser := (cfg.conns + cfg.users - 1) / cfg.users
	if cfg.maxConnsPerUser > 0 && perUser > cfg.maxConnsPerUser {
		return fmt.Errorf("%d connections over %d users is %d per user, over the server's limit of %d: raise -users (or -max-conns-per-user, on both sides)",
			cfg.conns, cfg.users, perUser, cfg.maxConnsPerUser)
	}
	if cfg.idle {
		return nil
	}
	switch {
	case cfg.groups == 0 && (cfg.users < 2 || cfg.users%2 != 0):
		return errors.New("-users must be even and at least 2: user 2i talks with user 2i+1")
	case cfg.rate < 0:
		return errors.New("-rate must not be negative")
	case cfg.rate == 0 && cfg.window < 1:
		return errors.New("-window must be at least 1")
	case cfg.rate > 0 && cfg.maxPending < 1:
		return errors.New("-max-pending must be at least 1")
	case cfg.bodySize > maxBody:
		return fmt.Errorf("-body-size must be at most %d", maxBody)
	}
	return nil
}

// checkUploads validates the upload mode's flags and derives -users
// from -upload-concurrency when not given.
func (cfg *config) checkUploads() error {
	switch {
	case cfg.uploads < 0:
		return errors.New("-uploads must not be negative")
	case cfg.idle || cfg.groups > 0:
		return errors.New("-uploads goes with neither -idle nor -groups")
	case cfg.uploadConc < 1:
		return errors.New("-upload-concurrency must be at least 1")
	case cfg.uploadTimeout <= 0 || cfg.rssInterval <= 0:
		return errors.New("-upload-timeout and -rss-interval must be positive")
	case cfg.signupConc < 1:
		return errors.New("-signup-concurrency must be at least 1")
	case len(cfg.passwordPrefix)+len(cfg.prefix)+1 < 8:
		return errors.New("-password-prefix plus the username must make passwords of at least 8 characters")
	}
	cfg.uploadConc = min(cfg.uploadConc, cfg.uploads)
	if !cfg.given["users"] {
		cfg.users = cfg.uploadConc + cfg.uploadConc%2
	}
	if cfg.users < 2 || cfg.users%2 != 0 {
		return errors.New("-users must be even and at least 2: user 2i uploads to the conversation with user 2i+1, and back")
	}
	if !validPrefix(cfg.prefix) || len(cfg.prefix)+len(fmt.Sprint(cfg.userOffset+cfg.users)) > 32 {
		return fmt.Errorf("-prefix %q: usernames are 3-32 characters of a-z 0-9 _ . -", cfg.prefix)
	}
	return nil
}

// checkGroups validates the group mode's flags and derives -users and
// -conns from them: the users are the groups' members, group after group,
// and every member is connected.
func (cfg *config) checkGroups() error {
	if !cfg.given["group-senders"] {
		cfg.groupSenders = min(cfg.groupSenders, cfg.groupMembers)
	}
	switch {
	case cfg.groups < 0:
		return errors.New("-groups must not be negative")
	case cfg.groups == 0:
		return nil
	case cfg.idle:
		return errors.New("-groups and -idle do not go together")
	case cfg.groupMembers < 2:
		return errors.New("-group-members must be at least 2")
	case cfg.maxGroupMembers > 0 && cfg.groupMembers > cfg.maxGroupMembers:
		return fmt.Errorf("-group-members %d is over the server's limit of %d members a group: raise -max-group-members (on both sides)", cfg.groupMembers, cfg.maxGroupMembers)
	case cfg.groupSenders < 1 || cfg.groupSenders > cfg.groupMembers:
		return errors.New("-group-senders must be between 1 and -group-members")
	}
	members := cfg.groups * cfg.groupMembers
	if cfg.given["users"] && cfg.users != members {
		return fmt.Errorf("-users %d: in group mode the users are the members, -groups × -group-members = %d (leave -users out)", cfg.users, members)
	}
	cfg.users = members
	if !cfg.given["conns"] {
		cfg.conns = members
	}
	if cfg.conns < members {
		return fmt.Errorf("-conns %d: in group mode every member is connected, so at least -groups × -group-members = %d", cfg.conns, members)
	}
	return nil
}

// urlFlag is -url: the first use replaces the default, later ones (or a
// comma list) add nodes.
type urlFlag struct {
	dst *string
	set bool
}

func (f *urlFlag) String() string {
	if f.dst == nil {
		return ""
	}
	return *f.dst
}

func (f *urlFlag) Set(v string) error {
	if !f.set {
		*f.dst, f.set = v, true
		return nil
	}
	*f.dst += "," + v
	return nil
}

// pidsFlag is -server-pid: process ids, repeated or as a comma list.
type pidsFlag struct{ dst *[]int }

func (f *pidsFlag) String() string {
	if f.dst == nil {
		return ""
	}
	return strings.Trim(strings.Join(strings.Fields(fmt.Sprint(*f.dst)), ","), "[]")
}

func (f *pidsFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || pid < 0 {
			return fmt.Errorf("%q is not a process id", s)
		}
		if pid > 0 {
			*f.dst = append(*f.dst, pid)
		}
	}
	return nil
}

// validPrefix reports whether s may start a username.
func validPrefix(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

func envName(flagName string) string {
	return "PARLEY_LOAD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// errVerify is returned by run when the verification found lost,
// duplicated or reordered messages.
var errVerify = errors.New("verification failed")

// run carries out one load (or idle) run and writes its report to stdout;
// progress goes to stderr. It returns errVerify (wrapped) when the
// verification fails.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
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
	l := newLoader(cfg, stderr)
	defer l.close()
	var rep *report
	switch {
	case cfg.uploads > 0:
		rep, err = l.runUploads(ctx)
	case cfg.idle:
		rep, err = l.runIdle(ctx)
	default:
		rep, err = l.runLoad(ctx)
	}
	if err != nil {
		return err
	}
	if cfg.jsonOut {
		if err := rep.writeJSON(stdout); err != nil {
			return err
		}
	} else if err := rep.writeText(stdout); err != nil {
		return err
	}
	if rep.Verify != nil && !rep.Verify.OK {
		return fmt.Errorf("%w: %s", errVerify, rep.Verify.Summary)
	}
	return nil
}
