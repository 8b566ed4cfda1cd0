package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// stats are the run's counters, shared by every connection.
type stats struct {
	sent              atomic.Int64 // distinct messages sent (not counting resends)
	resent            atomic.Int64 // sends repeated after a reconnect or a rate limit
	acked             atomic.Int64
	ackedMeasured     atomic.Int64 // acked, sent after the warm-up
	delivered         atomic.Int64 // message frames received
	deliveredMeasured atomic.Int64 // of those, sent after the warm-up
	expectedDeliv     atomic.Int64 // deliveries the acked messages should produce
	skipped           atomic.Int64 // scheduled sends skipped (disconnected, too late or too many pending)
	failed            atomic.Int64 // sends refused with an error frame other than rate_limited
	pending           atomic.Int64 // sent and not yet acked or refused
	open              atomic.Int64 // connections open now
	opened            atomic.Int64 // successful handshakes, reconnects included
	drops             atomic.Int64 // connections that ended without us closing them
	reconnects        atomic.Int64
	caughtUp          atomic.Int64 // messages fetched by catch-up (after reconnects and resync frames)
	caughtNew         atomic.Int64 // of those, messages the connection had not had
	resyncs           atomic.Int64 // resync frames received
	duplicated        atomic.Int64 // message frames for a seq the connection already had
	duplicatedCaught  atomic.Int64 // of those, for a seq it had first by a catch-up (the fetch overtook the live frame)
	foreign           atomic.Int64 // message frames not from this run

	ackH     *shardedHist // send → ack, µs
	deliverH *shardedHist // send → deliver, µs

	mu     sync.Mutex
	errors map[string]int64
}

func newStats() *stats {
	n := 4 * runtime.GOMAXPROCS(0)
	return &stats{ackH: newShardedHist(n), deliverH: newShardedHist(n), errors: map[string]int64{}}
}

// addError counts one error of the given kind.
func (s *stats) addError(kind string) {
	s.mu.Lock()
	s.errors[kind]++
	s.mu.Unlock()
}

func (s *stats) errorCounts() (map[string]int64, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := make(map[string]int64, len(s.errors))
	var total int64
	for k, v := range s.errors {
		m[k] = v
		total += v
	}
	return m, total
}

// problems collects what the verification (and the run) found wrong:
// counts by kind, and the first few of each kind in detail.
type problems struct {
	mu     sync.Mutex
	counts map[string]int64
	byKind map[string][]problem
}

// problem is one lost, duplicated or misplaced message.
type problem struct {
	Kind           string `json:"kind"`
	ConversationID int64  `json:"conversation_id,omitempty"`
	Seq            int64  `json:"seq,omitempty"`
	Conn           int    `json:"conn"` // -1: not about a connection (the database)
	User           string `json:"user,omitempty"`
	Detail         string `json:"detail,omitempty"`
}

// maxListed is how many problems are listed in detail.
const maxListed = 20

func (p *problems) add(pr problem) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.counts == nil {
		p.counts, p.byKind = map[string]int64{}, map[string][]problem{}
	}
	p.counts[pr.Kind]++
	if len(p.byKind[pr.Kind]) < maxListed {
		p.byKind[pr.Kind] = append(p.byKind[pr.Kind], pr)
	}
}

// first returns up to maxListed problems, those of the kinds for which
// failing is true first, in order of kind.
func (p *problems) first(failing func(kind string) bool) []problem {
	p.mu.Lock()
	defer p.mu.Unlock()
	var list []problem
	for _, wantFailing := range []bool{true, false} {
		for _, k := range sortedKeys(p.byKind) {
			if failing(k) == wantFailing {
				list = append(list, p.byKind[k]...)
			}
		}
	}
	return list[:min(len(list), maxListed)]
}

// loader runs one load or idle run.
type loader struct {
	// drainTimedOut: the server was still behind when the drain ended, so
	// some deliveries may have been on their way when connections closed.
	drainTimedOut bool

	cfg    config
	stderr io.Writer
	log    *slog.Logger
	st     *stats
	api    *apiClient
	// outages times the reconnect storms: from a drop to all caught up.
	outages *outages
	probs   problems
	runID   string // starts every client_id of this run
	// vocabulary pads bodies with words (-body-words); nil pads with x's.
	vocabulary []string
	spread     bool // spread source addresses over 127.0.0.x

	users []*user
	convs []*conv
	conns []*conn
	// sendingConns is how many connections send: all in direct mode,
	// the senders' in group mode.
	sendingConns int

	dialSem chan struct{}

	// The send phase: start is closed when it begins; the times are set
	// before. measureNanos is read by readers, hence atomic.
	start        chan struct{}
	sendStart    time.Time
	sendEnd      time.Time
	measureNanos atomic.Int64
}

func newLoader(cfg config, stderr io.Writer) *loader {
	st := newStats()
	var b [4]byte
	rand.Read(b[:])
	if len(cfg.bases) == 0 && cfg.base != nil {
		cfg.bases = []*url.URL{cfg.base}
	}
	spread := cfg.spreadSource
	for _, b := range cfg.bases {
		spread = spread && isLoopback4(b)
	}
	l := &loader{
		cfg:     cfg,
		stderr:  stderr,
		log:     slog.New(slog.NewTextHandler(stderr, nil)),
		st:      st,
		outages: &outages{st: st},
		api:     newAPIClient(st),
		runID:   hex.EncodeToString(b[:]),
		spread:  spread,
		dialSem: make(chan struct{}, cfg.dialConc),
		start:   make(chan struct{}),
	}
	if cfg.bodyWords {
		l.vocabulary = strings.Fields(bodyWords)
	}
	l.measureNanos.Store(1<<63 - 1)
	return l
}

// progress prints a progress line. It is best effort: a run is not worth
// stopping because its progress could not be shown.
func (l *loader) progress(format string, args ...any) {
	_, _ = fmt.Fprintf(l.stderr, format, args...)
}

func (l *loader) close() { l.api.tr.CloseIdleConnections() }

// userBase is the node of the run's user i: the -url nodes in turn, so
// that user 2i and user 2i+1 (a direct conversation), and a group's
// consecutive members, are on different nodes when there are several.
func (l *loader) userBase(i int) *url.URL { return l.cfg.bases[i%len(l.cfg.bases)] }

// wsURL is the WebSocket URL of the node at base.
func wsURL(base *url.URL) string {
	ws := *base
	ws.Scheme = map[string]string{"http": "ws", "https": "wss"}[base.Scheme]
	ws.Path += "/ws"
	return ws.String()
}

// isLoopback4 reports whether u's host is an IPv4 loopback address.
func isLoopback4(u *url.URL) bool {
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.To4() != nil && ip.IsLoopback()
}

// setupUsers signs up or signs in every user, a few at a time.
func (l *loader) setupUsers(ctx context.Context) error {
	l.users = make([]*user, l.cfg.users)
	for i := range l.users {
		idx := l.cfg.userOffset + i
		name := fmt.Sprintf("%s%d", l.cfg.prefix, idx)
		if len(name) < 3 {
			name = fmt.Sprintf("%s%03d", l.cfg.prefix, idx)
		}
		c, jar := l.api.newClient()
		l.users[i] = &user{index: idx, name: name, base: l.userBase(i), client: c, jar: jar}
	}
	var done atomic.Int64
	t0 := time.Now()
	stop := l.every(ctx, func() {
		l.progress("signing in: %d/%d users (%.0fs)\n", done.Load(), len(l.users), time.Since(t0).Seconds())
	})
	defer stop()
	saved := map[string]savedSession{}
	if l.cfg.sessions != "" {
		var err error
		if saved, err = loadSessions(l.cfg.sessions); err != nil {
			return err
		}
	}
	var resumed atomic.Int64
	err := forEach(ctx, len(l.users), l.cfg.signupConc, func(ctx context.Context, i int) error {
		u := l.users[i]
		if s, ok := saved[u.name]; ok {
			ok, err := l.resume(ctx, u, s)
			if err != nil {
				return err
			}
			if ok {
				resumed.Add(1)
				done.Add(1)
				return nil
			}
			u.client, u.jar = l.api.newClient()
		}
		if err := l.api.signIn(ctx, u, l.cfg.passwordPrefix+u.name); err != nil {
			return err
		}
		done.Add(1)
		return nil
	})
	if err != nil {
		return err
	}
	if l.cfg.sessions != "" {
		l.log.Info("sessions", "resumed", resumed.Load(), "signed_in", int64(len(l.users))-resumed.Load(), "file", l.cfg.sessions)
		return l.saveSessions(l.cfg.sessions, saved)
	}
	return nil
}

// setupConversations starts the direct conversation of each pair of
// users, 2i with 2i+1; in group mode it creates the groups instead.
func (l *loader) setupConversations(ctx context.Context) error {
	if l.cfg.groups > 0 {
		return l.setupGroups(ctx)
	}
	l.convs = make([]*conv, len(l.users)/2)
	return forEach(ctx, len(l.convs), l.cfg.signupConc, func(ctx context.Context, i int) error {
		a, b := l.users[2*i], l.users[2*i+1]
		c, err := l.api.startConversation(ctx, a, b)
		if err != nil {
			return err
		}
		cv := &conv{id: c.ID, members: []*user{a, b}, initialSeq: c.LastSeq, acked: map[int64]ackRec{}}
		a.conv, b.conv, a.sends, b.sends = cv, cv, true, true
		l.convs[i] = cv
		return nil
	})
}

// setupGroups creates -groups new groups: group g's members are users
// g·M to g·M+M-1 (M = -group-members), the first its admin and the first
// -group-senders its senders. A group is new each run, so its history
// holds only its creation's system messages before the run's.
func (l *loader) setupGroups(ctx context.Context) error {
	m := l.cfg.groupMembers
	l.convs = make([]*conv, l.cfg.groups)
	return forEach(ctx, len(l.convs), l.cfg.signupConc, func(ctx context.Context, g int) error {
		members := l.users[g*m : (g+1)*m]
		title := fmt.Sprintf("%s group %d (run %s)", l.cfg.prefix, l.cfg.userOffset/m+g, l.runID)
		c, err := l.api.createGroup(ctx, members[0], title, members[1:])
		if err != nil {
			return err
		}
		cv := &conv{id: c.ID, members: members, initialSeq: c.LastSeq, acked: map[int64]ackRec{}}
		for i, u := range members {
			u.conv, u.sends = cv, i < l.cfg.groupSenders
		}
		l.convs[g] = cv
		return nil
	})
}

// makeConns creates the connections, spread round-robin over the users.
func (l *loader) makeConns() {
	l.conns = make([]*conn, l.cfg.conns)
	for k := range l.conns {
		u := l.users[k%len(l.users)]
		c := &conn{l: l, k: k, u: u, cv: u.conv, sk: -1, wake: make(chan struct{}, 1), resync: make(chan struct{}, 1), pending: map[string]*pend{}}
		if u.sends {
			c.sk = l.sendingConns
			l.sendingConns++
		}
		if c.cv != nil {
			c.wm = c.cv.initialSeq
			c.cv.conns = append(c.cv.conns, c)
		}
		if l.spread {
			c.local = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+k%250))}
		}
		u.conns = append(u.conns, c)
		l.conns[k] = c
	}
}

// openConns starts every connection's goroutine and waits until each has
// connected once (or the connect timeout passes). The goroutines run
// until connCtx ends; wait joins them.
func (l *loader) openConns(ctx, connCtx context.Context, sendCtx context.Context) (wait func(), err error) {
	var wg sync.WaitGroup
	var ready atomic.Int64
	allReady := make(chan struct{})
	for _, c := range l.conns {
		wg.Go(func() {
			c.run(connCtx, sendCtx, func() {
				if ready.Add(1) == int64(len(l.conns)) {
					close(allReady)
				}
			})
		})
	}
	t0 := time.Now()
	stop := l.every(ctx, func() {
		_, errs := l.st.errorCounts()
		l.progress("connecting: %d/%d open, %d errors (%.0fs)\n", ready.Load(), len(l.conns), errs, time.Since(t0).Seconds())
	})
	defer stop()
	timeout := time.NewTimer(l.cfg.connectTimeout)
	defer timeout.Stop()
	select {
	case <-allReady:
		l.log.Info("connections open", "conns", len(l.conns), "took", time.Since(t0).Round(time.Millisecond))
		return wg.Wait, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-timeout.C:
		err = fmt.Errorf("only %d of %d connections opened within %v", ready.Load(), len(l.conns), l.cfg.connectTimeout)
	}
	return wg.Wait, err
}

// every calls f every second until ctx ends or stop is called; stop
// returns once f's goroutine has ended.
func (l *loader) every(ctx context.Context, f func()) (stop func()) {
	if !l.cfg.progress {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				f()
			}
		}
	})
	return func() { cancel(); wg.Wait() }
}

// runLoad is the load mode: users, conversations, connections, the send
// phase, the drain, the verification.
func (l *loader) runLoad(ctx context.Context) (*report, error) {
	cfg := l.cfg
	rep := l.newReport("load")
	rep.ServerRSS = l.rssStart()
	t0 := time.Now()
	if err := l.setupUsers(ctx); err != nil {
		return nil, err
	}
	if err := l.setupConversations(ctx); err != nil {
		return nil, err
	}
	l.log.Info("users ready", "users", len(l.users), "conversations", len(l.convs), "took", time.Since(t0).Round(time.Millisecond))
	l.makeConns()

	// Connections live until connCtx ends (after the drain); new sends
	// are made until sendCtx ends.
	connCtx, stopConns := context.WithCancel(ctx)
	defer stopConns()
	sendCtx, stopSends := context.WithCancel(connCtx)
	defer stopSends()
	wait, err := l.openConns(ctx, connCtx, sendCtx)
	if err != nil {
		stopConns()
		wait()
		return nil, err
	}

	// The send phase.
	now := time.Now()
	l.sendStart = now
	l.sendEnd = now.Add(cfg.warmup + cfg.duration)
	l.measureNanos.Store(now.Add(cfg.warmup).UnixNano())
	close(l.start)
	stopProgress := l.every(ctx, l.progressLine())
	cpu := l.measureCPU(ctx, now.Add(cfg.warmup), l.sendEnd)
	stopSends()
	sendPhase := time.Since(now)

	// The drain: wait for outstanding acks and deliveries.
	l.drain(ctx)
	stopProgress()
	stopConns()
	wait()
	rep.fill(l, sendPhase)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if cfg.serverPID > 0 {
		if kb, err := readRSS(cfg.serverPID); err == nil {
			rep.ServerRSS.EndKB = kb
		}
	}

	if cpu != nil {
		rep.ServerCPU = cpu(rep.AckedMeasured, rep.DeliveredMeasured)
	}
	l.log.Info("verifying", "conversations", len(l.convs))
	rep.Verify = l.verify(ctx)
	return rep, nil
}

// measureCPU waits until end (or ctx ends), reading the server
// processes' CPU time at from and at end when -server-pid names them. It
// returns nil without them; else the function that makes the report from
// the window's acked messages and deliveries.
func (l *loader) measureCPU(ctx context.Context, from, end time.Time) func(acked, delivered int64) *cpuReport {
	pids := l.cfg.serverPIDs
	wait := func(t time.Time) bool {
		timer := time.NewTimer(time.Until(t))
		defer timer.Stop()
		select {
		case <-timer.C:
			return true
		case <-ctx.Done():
			return false
		}
	}
	if len(pids) == 0 {
		wait(end)
		return nil
	}
	failed := func(err error) func(int64, int64) *cpuReport {
		l.log.Warn("server CPU", "err", err)
		return func(int64, int64) *cpuReport { return &cpuReport{PIDs: pids, Error: err.Error()} }
	}
	if !wait(from) {
		return nil
	}
	t0 := time.Now()
	start, err := cpuReadings(pids)
	if err != nil {
		wait(end)
		return failed(err)
	}
	if !wait(end) {
		return nil
	}
	stop, err := cpuReadings(pids)
	if err != nil {
		return failed(err)
	}
	window := time.Since(t0)
	return func(acked, delivered int64) *cpuReport {
		return newCPUReport(pids, start, stop, window, acked, delivered)
	}
}

// drain waits, at most -drain, until no send is pending and every
// delivery the acked messages should produce has arrived (or none has
// arrived for a second).
func (l *loader) drain(ctx context.Context) {
	deadline := time.Now().Add(l.cfg.drain)
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	last, lastChange := l.st.delivered.Load()+l.st.caughtUp.Load(), time.Now()
	for time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d := l.st.delivered.Load() + l.st.caughtUp.Load()
		if d != last {
			last, lastChange = d, time.Now()
		}
		if l.st.pending.Load() > 0 {
			continue
		}
		// Deliveries by catch-up count too: a resync makes clients fetch
		// what was not published.
		if l.st.delivered.Load()+l.st.caughtNew.Load() >= l.st.expectedDeliv.Load() || time.Since(lastChange) > time.Second {
			return
		}
	}
	l.drainTimedOut = true
	l.log.Warn("drain timed out", "pending", l.st.pending.Load(), "delivered", l.st.delivered.Load(), "expected", l.st.expectedDeliv.Load())
}

// progressLine returns the function that prints the send phase's progress.
func (l *loader) progressLine() func() {
	var lastAcked, lastDeliv int64
	last := time.Now()
	return func() {
		now := time.Now()
		dt := now.Sub(last).Seconds()
		acked, deliv := l.st.acked.Load(), l.st.delivered.Load()
		_, errs := l.st.errorCounts()
		phase := ""
		if now.After(l.sendEnd) {
			phase = " (draining)"
		} else if now.Before(time.Unix(0, l.measureNanos.Load())) {
			phase = " (warm-up)"
		}
		l.progress("t=%4.0fs acked/s=%-7.0f delivered/s=%-7.0f pending=%-5d open=%d/%d drops=%d errors=%d%s\n",
			now.Sub(l.sendStart).Seconds(), float64(acked-lastAcked)/dt, float64(deliv-lastDeliv)/dt,
			l.st.pending.Load(), l.st.open.Load(), len(l.conns), l.st.drops.Load(), errs, phase)
		lastAcked, lastDeliv, last = acked, deliv, now
	}
}

// runIdle is the idle mode: open the connections, hold them, measure the
// server's memory.
func (l *loader) runIdle(ctx context.Context) (*report, error) {
	cfg := l.cfg
	rep := l.newReport("idle")
	t0 := time.Now()
	if err := l.setupUsers(ctx); err != nil {
		return nil, err
	}
	l.log.Info("users ready", "users", len(l.users), "took", time.Since(t0).Round(time.Millisecond))
	l.makeConns()
	rep.ServerRSS = l.rssStart()

	connCtx, stopConns := context.WithCancel(ctx)
	defer stopConns()
	t1 := time.Now()
	wait, err := l.openConns(ctx, connCtx, connCtx)
	if err != nil {
		stopConns()
		wait()
		return nil, err
	}
	rep.Idle = &idleReport{OpenSeconds: time.Since(t1).Seconds()}
	l.sendStart = time.Now()
	l.sendEnd = l.sendStart.Add(cfg.duration)
	stop := l.every(ctx, func() {
		_, errs := l.st.errorCounts()
		l.progress("t=%4.0fs idle: open=%d/%d drops=%d errors=%d\n",
			time.Since(l.sendStart).Seconds(), l.st.open.Load(), len(l.conns), l.st.drops.Load(), errs)
	})
	hold := time.NewTimer(cfg.duration)
	if cfg.serverPID > 0 {
		settle := time.NewTimer(min(cfg.settle, cfg.duration))
		select {
		case <-settle.C:
			if kb, err := readRSS(cfg.serverPID); err == nil {
				rep.ServerRSS.OpenKB = kb
				rep.ServerRSS.OpenConns = l.st.open.Load()
				rep.ServerRSS.OpenFDs, _ = countFDs(cfg.serverPID)
			} else {
				l.log.Warn("server RSS", "err", err)
			}
		case <-ctx.Done():
		}
		settle.Stop()
	}
	select {
	case <-hold.C:
	case <-ctx.Done():
	}
	hold.Stop()
	stop()
	rep.Idle.OpenAtEnd = l.st.open.Load()
	stopConns()
	wait()
	rep.fill(l, time.Since(l.sendStart))
	return rep, ctx.Err()
}

// rssStart reads the server's RSS at the start, when asked to.
func (l *loader) rssStart() *rssReport {
	if l.cfg.serverPID <= 0 {
		return nil
	}
	r := &rssReport{PID: l.cfg.serverPID}
	kb, err := readRSS(l.cfg.serverPID)
	if err != nil {
		l.log.Warn("server RSS", "err", err)
		r.Error = err.Error()
		return r
	}
	r.StartKB = kb
	r.StartFDs, _ = countFDs(l.cfg.serverPID)
	return r
}

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// makeBody returns a message body carrying the send time, padded to size
// bytes: "load <unix nanos> xxxx…", or, with a vocabulary, "load <unix
// nanos>" and words of it chosen from the time, so that a search index
// has realistic text to take in.
func makeBody(nanos int64, size int, vocabulary []string) string {
	s := fmt.Sprintf("load %d", nanos)
	pad := size - len(s) - 1
	if pad <= 0 {
		return s
	}
	if len(vocabulary) == 0 {
		return s + " " + strings.Repeat("x", pad)
	}
	var b strings.Builder
	b.WriteString(s)
	x := uint64(nanos) | 1
	for b.Len() < size {
		// xorshift64: the same words for the same time, so the
		// verification can rebuild the body.
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b.WriteByte(' ')
		b.WriteString(vocabulary[x%uint64(len(vocabulary))])
	}
	body := b.String()[:size]
	if strings.HasSuffix(body, " ") { // the server trims it
		body = body[:size-1] + "x"
	}
	return body
}

// bodyWords is the vocabulary of -body-words bodies: common English words
// and the talk of a team.
const bodyWords = `the be to of and a in that have I it for not on with he as you do at this
but his by from they we say her she or an will my one all would there their what so up out if about who
get which go me when make can like time no just him know take people into year your good some could them
see other than then now look only come its over think also back after use two how our work first well way
even new want because any these give day most us deploy release server build test review merge branch
meeting lunch coffee tomorrow today yesterday week friday monday ticket issue bug fix customer report
design launch budget plan team project deadline update status call thanks please sorry great sure okay`

// bodyNanos returns the send time in a body made by makeBody, or 0.
func bodyNanos(body string) int64 {
	rest, ok := strings.CutPrefix(body, "load ")
	if !ok {
		return 0
	}
	if i := strings.IndexByte(rest, ' '); i >= 0 {
		rest = rest[:i]
	}
	var n int64
	for _, r := range rest {
		if r < '0' || r > '9' {
			return 0
		}
		n = n*10 + int64(r-'0')
	}
	return n
}
