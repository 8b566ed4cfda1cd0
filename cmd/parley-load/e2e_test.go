package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The end-to-end tests build the real server binary (cmd/parley's run is
// in another package main) and run parley-load's run against it.

// buildServer builds cmd/parley into dir and returns the binary's path.
func buildServer(t *testing.T, dir string) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside the module")
	}
	bin := filepath.Join(dir, "parley")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/parley")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/parley: %v\n%s", err, out)
	}
	return bin
}

// server is a running server binary.
type server struct {
	cmd  *exec.Cmd
	addr string
	done chan struct{} // closed when its output is read to the end
	mu   sync.Mutex
	log  bytes.Buffer
}

// startServer starts the binary on addr (host:0 for a free port) with db
// and the limits raised for load, and waits for its "listening" line.
func startServer(t *testing.T, bin, addr, db string) *server {
	t.Helper()
	s := &server{done: make(chan struct{})}
	s.cmd = exec.Command(bin, "-addr", addr, "-db", db, "-log-format", "json",
		"-register-rate", "1000000", "-message-rate", "1000000", "-message-burst", "1000000")
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stderr = s.cmd.Stdout
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			s.mu.Lock()
			s.log.Write(line)
			s.log.WriteByte('\n')
			s.mu.Unlock()
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" {
				select {
				case listening <- rec.Addr:
				default:
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case s.addr = <-listening:
	case <-s.done:
		s.cmd.Wait()
		t.Fatalf("server exited before listening:\n%s", s.output())
	case <-time.After(60 * time.Second): // a deadline for a server that hangs, not a wait
		s.kill()
		t.Fatalf("server did not start listening:\n%s", s.output())
	}
	return s
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.log.String()
}

// kill kills the server (SIGKILL: no graceful shutdown) and waits for it.
func (s *server) kill() {
	s.cmd.Process.Kill()
	<-s.done
	s.cmd.Wait()
}

// progressLog is parley-load's stderr, kept so that a test can follow the
// send phase's progress lines (one a second) while the run goes on.
type progressLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *progressLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *progressLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// progress is what a progress line of the send phase says.
type progress struct {
	acked              float64 // acks a second since the line before
	open, conns, drops int
}

// progressLine matches the send phase's progress line (loader.progressLine).
var progressLine = regexp.MustCompile(`(?m)^t=\s*\d+s acked/s=(\d+)\s+delivered/s=\d+\s+pending=\d+\s+open=(\d+)/(\d+) drops=(\d+) `)

// lines returns the progress lines written so far, in order.
func (w *progressLog) lines() []progress {
	var ps []progress
	for _, m := range progressLine.FindAllStringSubmatch(w.String(), -1) {
		var p progress
		p.acked, _ = strconv.ParseFloat(m[1], 64)
		p.open, _ = strconv.Atoi(m[2])
		p.conns, _ = strconv.Atoi(m[3])
		p.drops, _ = strconv.Atoi(m[4])
		ps = append(ps, p)
	}
	return ps
}

// await waits for a progress line after the first from lines that
// satisfies ok, and returns the number of lines up to and including it.
// It fails the test if the run ends first (ended is closed), or after a
// deadline meant for a run that is stuck.
func (w *progressLog) await(t *testing.T, ended <-chan struct{}, from int, what string, ok func(progress) bool) int {
	t.Helper()
	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		lines := w.lines()
		for i := from; i < len(lines); i++ {
			if ok(lines[i]) {
				return i + 1
			}
		}
		select {
		case <-tick.C:
		case <-ended:
			t.Fatalf("the run ended before %s:\n%s", what, w.String())
		case <-deadline.C:
			t.Fatalf("no progress line showed %s within 60 s:\n%s", what, w.String())
		}
	}
}

// runLoadTool runs parley-load's run with args and decodes its JSON
// report. It may be called from any goroutine.
// drainPatience is how long a run may wait for its last acks and
// deliveries: a loaded machine takes far longer than the tool's default,
// and a run that gets them sooner ends sooner.
const drainPatience = "2m"

func runLoadTool(ctx context.Context, stderr io.Writer, args ...string) (*report, error) {
	var stdout bytes.Buffer
	err := run(ctx, append([]string{"parley-load", "-json"}, args...), func(string) string { return "" }, &stdout, stderr)
	if errors.Is(err, errVerify) || err == nil {
		var rep report
		if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
			return nil, fmt.Errorf("decode report: %v\n%s", jerr, stdout.String())
		}
		return &rep, err
	}
	return nil, err
}

// checkClean asserts a report with acks, every delivery and no problem of
// any kind: no loss, no duplicate, nothing out of order.
func checkClean(t *testing.T, rep *report) {
	t.Helper()
	v := rep.Verify
	if v == nil {
		t.Fatal("no verification in the report")
	}
	if rep.Acked == 0 {
		t.Error("nothing acked")
	}
	if rep.UnackedAtEnd != 0 || rep.Failed != 0 {
		t.Errorf("%d unacked at the end, %d refused", rep.UnackedAtEnd, rep.Failed)
	}
	if v.AckedMessages != rep.Acked || v.DBMessages != rep.Acked || v.StoredUnacked != 0 {
		t.Errorf("acked %d, verified %d, in the database %d (%d never acked)", rep.Acked, v.AckedMessages, v.DBMessages, v.StoredUnacked)
	}
	for kind, n := range v.Problems {
		if kind == "duplicate delivery" {
			// Delivery is at least once: a resend after a kill is
			// published again, and the clients drop the copy by seq.
			t.Logf("%s: %d", kind, n)
			continue
		}
		t.Errorf("problem %s: %d", kind, n)
	}
	if !v.OK {
		t.Errorf("verification: %s", v.Summary)
	}
	if t.Failed() {
		b, _ := json.MarshalIndent(rep, "", "  ")
		t.Logf("report: %s", b)
	}
}

// TestServerBinary builds the server once for the tests that run it, each
// with a server and database of its own.
func TestServerBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	bin := buildServer(t, t.TempDir())
	t.Run("EndToEnd", func(t *testing.T) {
		t.Parallel()
		testEndToEnd(t, bin)
	})
	t.Run("CrashRestart", func(t *testing.T) {
		t.Parallel()
		testCrashRestart(t, bin)
	})
}

func testEndToEnd(t *testing.T, bin string) {
	dir := t.TempDir()
	srv := startServer(t, bin, "127.0.0.1:0", filepath.Join(dir, "x.db"))
	defer srv.kill()
	url := "http://" + srv.addr
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	t.Run("load", func(t *testing.T) {
		var stderr bytes.Buffer
		rep, err := runLoadTool(ctx, &stderr, "-drain", drainPatience, "-url", url, "-users", "10", "-conns", "20", "-rate", "200", "-duration", "3s",
			"-progress=false")
		if rep == nil {
			t.Fatalf("run: %v\n%s\nserver:\n%s", err, stderr.String(), srv.output())
		}
		if err != nil {
			t.Errorf("run: %v\n%s", err, stderr.String())
		}
		// 10 users, 20 connections: two per user, four per conversation;
		// a message reaches the three connections other than its sender's.
		checkClean(t, rep)
		if rep.Delivered != rep.Acked*3 || rep.ExpectedDeliveries != rep.Acked*3 {
			t.Errorf("delivered %d, expected %d, want acked×3 = %d", rep.Delivered, rep.ExpectedDeliveries, rep.Acked*3)
		}
		if rep.Drops != 0 || rep.Verify.ConnsChecked != 20 {
			t.Errorf("%d drops, %d connections checked, want 0 and 20", rep.Drops, rep.Verify.ConnsChecked)
		}
		if rep.AckLatency.Count != uint64(rep.Acked) || rep.DeliverLatency.Count != uint64(rep.Delivered) || rep.AckLatency.P50 <= 0 {
			t.Errorf("latency counts %d and %d, p50 %v", rep.AckLatency.Count, rep.DeliverLatency.Count, rep.AckLatency.P50)
		}
	})

	t.Run("window reusing users", func(t *testing.T) {
		// The same users again (sign-in on 409), sending as fast as acks allow.
		var stderr bytes.Buffer
		rep, err := runLoadTool(ctx, &stderr, "-drain", drainPatience, "-url", url, "-users", "10", "-conns", "10", "-rate", "0", "-window", "4",
			"-duration", "1s", "-warmup", "500ms", "-progress=false")
		if rep == nil {
			t.Fatalf("run: %v\n%s\nserver:\n%s", err, stderr.String(), srv.output())
		}
		if err != nil {
			t.Errorf("run: %v\n%s", err, stderr.String())
		}
		checkClean(t, rep)
		if rep.Delivered != rep.Acked || rep.AckedMeasured >= rep.Acked {
			t.Errorf("delivered %d, acked %d (%d measured after the warm-up)", rep.Delivered, rep.Acked, rep.AckedMeasured)
		}
	})

	t.Run("groups", func(t *testing.T) {
		// 2 groups of 5 members, 2 of them sending, two connections a
		// member: each message reaches the 9 connections of its group
		// other than the sending one, the sender's other connection
		// included.
		var stderr bytes.Buffer
		rep, err := runLoadTool(ctx, &stderr, "-drain", drainPatience, "-url", url, "-prefix", "grp",
			"-groups", "2", "-group-members", "5", "-group-senders", "2", "-conns", "20",
			"-rate", "0", "-window", "4", "-duration", "2s", "-progress=false")
		if rep == nil {
			t.Fatalf("run: %v\n%s\nserver:\n%s", err, stderr.String(), srv.output())
		}
		if err != nil {
			t.Errorf("run: %v\n%s", err, stderr.String())
		}
		checkClean(t, rep)
		if rep.Groups != 2 || rep.Users != 10 || rep.SendingConns != 8 {
			t.Errorf("%d groups, %d users, %d sending connections; want 2, 10, 8", rep.Groups, rep.Users, rep.SendingConns)
		}
		if rep.Delivered != rep.Acked*9 || rep.ExpectedDeliveries != rep.Acked*9 {
			t.Errorf("delivered %d, expected %d, want acked×9 = %d", rep.Delivered, rep.ExpectedDeliveries, rep.Acked*9)
		}
		if rep.Drops != 0 || rep.Verify.ConnsChecked != 20 {
			t.Errorf("%d drops, %d connections checked, want 0 and 20", rep.Drops, rep.Verify.ConnsChecked)
		}
		if rep.DeliverLatency.Count != uint64(rep.Delivered) || rep.DeliverLatency.P50 <= 0 {
			t.Errorf("send→deliver latency: %d recorded, p50 %v; want %d recorded", rep.DeliverLatency.Count, rep.DeliverLatency.P50, rep.Delivered)
		}
	})

	t.Run("uploads", func(t *testing.T) {
		// 3 uploads of 1 MiB at once, each sent in a message after.
		var stderr bytes.Buffer
		rep, err := runLoadTool(ctx, &stderr, "-url", url, "-prefix", "up", "-uploads", "3", "-upload-size", "1MiB",
			"-upload-send", "-server-pid", fmt.Sprint(srv.cmd.Process.Pid), "-progress=false")
		if err != nil {
			t.Fatalf("run: %v\n%s\nserver:\n%s", err, stderr.String(), srv.output())
		}
		u := rep.Uploads
		if rep.Mode != "upload" || u == nil {
			t.Fatalf("mode %q, uploads %+v", rep.Mode, u)
		}
		if u.OK != 3 || u.Sent != 3 || len(u.Failed) != 0 || u.Bytes != 3<<20 || u.Size != 1<<20 {
			t.Errorf("uploads: %d ok, %d sent, failed %v, %d bytes of %d each; want 3, 3, none, 3 MiB of 1 MiB", u.OK, u.Sent, u.Failed, u.Bytes, u.Size)
		}
		if u.ContentTypes["application/octet-stream"] != 3 || u.Thumbnails != 0 {
			t.Errorf("content types %v, %d thumbnails; want 3 application/octet-stream, none", u.ContentTypes, u.Thumbnails)
		}
		if u.Latency == nil || u.Latency.Count != 3 || u.Latency.P50 <= 0 || u.MiBPerSec <= 0 || u.ElapsedS <= 0 {
			t.Errorf("latency %+v, %v MiB/s over %v s", u.Latency, u.MiBPerSec, u.ElapsedS)
		}
		if r := rep.ServerRSS; r == nil || r.StartKB <= 0 || r.PeakKB <= 0 || r.EndKB <= 0 || r.Samples < 2 {
			t.Errorf("server RSS: %+v", r)
		}
		if rep.ServerCPU == nil || rep.ServerCPU.Seconds < 0 {
			t.Errorf("server CPU: %+v", rep.ServerCPU)
		}
	})

	t.Run("idle", func(t *testing.T) {
		var stderr bytes.Buffer
		// -settle 0: the RSS is read as soon as the connections are open;
		// waiting for the GC to settle matters to a measurement, not here.
		rep, err := runLoadTool(ctx, &stderr, "-drain", drainPatience, "-url", url, "-idle", "-users", "5", "-user-offset", "100", "-conns", "30",
			"-duration", "1s", "-settle", "0", "-server-pid", fmt.Sprint(srv.cmd.Process.Pid), "-progress=false")
		if err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
		if rep.Idle == nil || rep.Idle.OpenAtEnd != 30 || rep.Opened != 30 || rep.Drops != 0 {
			t.Errorf("idle: %+v, %d handshakes, %d drops", rep.Idle, rep.Opened, rep.Drops)
		}
		if r := rep.ServerRSS; r == nil || r.StartKB <= 0 || r.OpenKB <= 0 || r.OpenConns != 30 {
			t.Errorf("server RSS: %+v", r)
		}
	})
}

// testCrashRestart kills the server twice during a run and restarts it on
// the same port and database: the connections reconnect and catch up,
// unacked sends are resent with their client_id, and nothing acked is lost,
// stored twice, delivered twice or delivered out of order.
//
// Each kill waits for the run's progress lines to show sends being acked by
// the server it kills, after every connection came back to it, so that the
// kills land in the middle of traffic however slow the machine is. The run
// lasts long enough for that on a loaded machine; if it ends first, the
// test fails saying so.
func testCrashRestart(t *testing.T, bin string) {
	const conns = 20
	db := filepath.Join(t.TempDir(), "crash.db")
	srv := startServer(t, bin, "127.0.0.1:0", db)
	addr := srv.addr
	defer func() { srv.kill() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	stderr := &progressLog{}
	var rep *report
	var runErr error
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		rep, runErr = runLoadTool(ctx, stderr, "-drain", drainPatience, "-url", "http://"+addr, "-users", "10", "-conns", fmt.Sprint(conns), "-rate", "300",
			"-duration", "15s", "-progress=true")
	}()
	// On an early failure, end the run and join it.
	t.Cleanup(func() { cancel(); <-ended })

	stderr.await(t, ended, 0, "sends acked with every connection open", func(p progress) bool {
		return p.open == conns && p.acked > 0
	})
	for kill := 1; kill <= 2; kill++ {
		srv.kill()
		// seen counts the progress lines looked at: each wait considers
		// only lines written after the previous step.
		seen := len(stderr.lines())
		srv = startServer(t, bin, addr, db)
		seen = stderr.await(t, ended, seen, fmt.Sprintf("every connection back after kill %d", kill), func(p progress) bool {
			return p.open == conns && p.drops >= kill*conns
		})
		// A later line counts acks made since that one was written, when
		// the old server was dead: they are the new server's.
		stderr.await(t, ended, seen, fmt.Sprintf("sends acked by the server started after kill %d", kill), func(p progress) bool {
			return p.acked > 0
		})
	}
	<-ended
	if rep == nil {
		t.Fatalf("run: %v\n%s", runErr, stderr.String())
	}
	if runErr != nil {
		t.Errorf("run: %v\n%s", runErr, stderr.String())
	}
	checkClean(t, rep)
	if rep.Reconnects < 2*conns {
		t.Errorf("%d reconnects, want at least %d (every connection, twice)", rep.Reconnects, 2*conns)
	}
	t.Logf("%d acked, %d resent, %d reconnects, %d caught up, %d connections checked after reconnecting",
		rep.Acked, rep.Resent, rep.Reconnects, rep.CaughtUp, rep.Verify.ConnsReconn)
}
