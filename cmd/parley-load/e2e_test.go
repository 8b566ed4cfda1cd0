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
	case <-time.After(30 * time.Second):
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

// watchWriter is an io.Writer that closes seen when a line containing
// want has been written.
type watchWriter struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	want string
	seen chan struct{}
	once sync.Once
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if bytes.Contains(w.buf.Bytes(), []byte(w.want)) {
		w.once.Do(func() { close(w.seen) })
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// runLoadTool runs parley-load's run with args and decodes its JSON
// report. It may be called from any goroutine.
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

// checkClean asserts a report with acks, every delivery and no loss nor
// duplicate.
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
		if kind != "out of order" {
			t.Errorf("problem %s: %d", kind, n)
		}
	}
	if n := v.Problems["out of order"]; n > 0 {
		t.Logf("%d message frames arrived out of seq order (reported, not failing here)", n)
	}
	if !v.OK {
		t.Errorf("verification: %s", v.Summary)
	}
	if t.Failed() {
		b, _ := json.MarshalIndent(rep, "", "  ")
		t.Logf("report: %s", b)
	}
}

func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	bin := buildServer(t, dir)
	srv := startServer(t, bin, "127.0.0.1:0", filepath.Join(dir, "x.db"))
	defer srv.kill()
	url := "http://" + srv.addr
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	t.Run("load", func(t *testing.T) {
		var stderr bytes.Buffer
		rep, err := runLoadTool(ctx, &stderr, "-url", url, "-users", "10", "-conns", "20", "-rate", "200", "-duration", "3s",
			"-check-order=false", "-progress=false")
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
			t.Errorf("%d drops, %d connections checked exactly-once, want 0 and 20", rep.Drops, rep.Verify.ConnsChecked)
		}
		if rep.AckLatency.Count != uint64(rep.Acked) || rep.DeliverLatency.Count != uint64(rep.Delivered) || rep.AckLatency.P50 <= 0 {
			t.Errorf("latency counts %d and %d, p50 %v", rep.AckLatency.Count, rep.DeliverLatency.Count, rep.AckLatency.P50)
		}
	})

	t.Run("window reusing users", func(t *testing.T) {
		// The same users again (sign-in on 409), sending as fast as acks allow.
		var stderr bytes.Buffer
		rep, err := runLoadTool(ctx, &stderr, "-url", url, "-users", "10", "-conns", "10", "-rate", "0", "-window", "4",
			"-duration", "1s", "-warmup", "500ms", "-check-order=false", "-progress=false")
		if err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
		checkClean(t, rep)
		if rep.Delivered != rep.Acked || rep.AckedMeasured >= rep.Acked {
			t.Errorf("delivered %d, acked %d (%d measured after the warm-up)", rep.Delivered, rep.Acked, rep.AckedMeasured)
		}
	})

	t.Run("idle", func(t *testing.T) {
		var stderr bytes.Buffer
		rep, err := runLoadTool(ctx, &stderr, "-url", url, "-idle", "-users", "5", "-user-offset", "100", "-conns", "30",
			"-duration", "1s", "-settle", "200ms", "-server-pid", fmt.Sprint(srv.cmd.Process.Pid), "-progress=false")
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

// TestCrashRestart kills the server twice during a run and restarts it on
// the same port and database: the connections reconnect and catch up,
// unacked sends are resent with their client_id, and nothing acked is lost
// or stored twice.
func TestCrashRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the server binary")
	}
	dir := t.TempDir()
	bin := buildServer(t, dir)
	db := filepath.Join(dir, "crash.db")
	srv := startServer(t, bin, "127.0.0.1:0", db)
	addr := srv.addr
	defer func() { srv.kill() }()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	stderr := &watchWriter{want: "connections open", seen: make(chan struct{})}
	type result struct {
		rep *report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := runLoadTool(ctx, stderr, "-url", "http://"+addr, "-users", "10", "-conns", "20", "-rate", "300",
			"-duration", "8s", "-check-order=false", "-progress=false")
		done <- result{rep, err}
	}()
	select {
	case <-stderr.seen:
	case r := <-done:
		t.Fatalf("run ended early: %v\n%s", r.err, stderr.String())
	}
	for range 2 {
		time.Sleep(1500 * time.Millisecond)
		srv.kill()
		time.Sleep(500 * time.Millisecond)
		srv = startServer(t, bin, addr, db)
	}
	r := <-done
	if r.rep == nil {
		t.Fatalf("run: %v\n%s", r.err, stderr.String())
	}
	if r.err != nil {
		t.Errorf("run: %v\n%s", r.err, stderr.String())
	}
	checkClean(t, r.rep)
	if r.rep.Reconnects < 20 {
		t.Errorf("%d reconnects, want at least 20 (every connection, twice)", r.rep.Reconnects)
	}
	t.Logf("%d acked, %d resent, %d reconnects, %d caught up", r.rep.Acked, r.rep.Resent, r.rep.Reconnects, r.rep.CaughtUp)
}
