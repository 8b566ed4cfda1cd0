package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/testenv"
)

// logLine is one line of the JSON log, as much of it as the outage tests
// read.
type logLine struct {
	Time  time.Time
	Level string
	Msg   string
}

// TestOutageLogs: with -log-format json, a Redis outage and then a
// PostgreSQL outage met by a stream of sends leave a log of JSON lines
// only (go-redis's own lines included), in which no warning comes back
// within 10 s of itself (each dependency's "unavailable" among them), and
// each dependency says once that it is available again.
func TestOutageLogs(t *testing.T) {
	t.Parallel()
	redisURL := mustParse(t, testenv.Need(t, testenv.Redis))
	redisProxy := testenv.NewFaultProxy(t, redisURL.Host)
	redisURL.Host = redisProxy.Addr()
	dbProxy, dsn := viaProxy(t)
	s := startServer(t, map[string]string{
		"PARLEY_DB":           dsn,
		"PARLEY_DB_TIMEOUT":   "2s",
		"PARLEY_REDIS":        redisURL.String(),
		"PARLEY_REDIS_PREFIX": "parleytest:" + rand.Text()[:10] + ":",
		"PARLEY_LOG_LEVEL":    "info",
	})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	alice.send(conv, "before the outages", "first")
	as := newFaultSender("alice", alice, conv)
	sent := 0
	// sendOnce makes one attempt, answered or not: the outage is met by
	// requests, as in production.
	sendOnce := func() {
		sent++
		ctx, cancel := context.WithTimeout(t.Context(), patience)
		defer cancel()
		_, _ = as.try(ctx, fmt.Sprint("c", sent), "sent during the outages")
	}
	logged := func(msg string) bool { return strings.Contains(s.logs.String(), `"msg":"`+msg+`"`) }
	for _, dep := range []struct {
		name  string
		proxy *testenv.FaultProxy
	}{{"redis", redisProxy}, {"database", dbProxy}} {
		dep.proxy.Cut()
		waitUntil(t, dep.name+" unavailable logged", func() bool { sendOnce(); return logged(dep.name + " unavailable") })
		for range 2 {
			sendOnce()
		}
		dep.proxy.Mend()
		waitUntil(t, dep.name+" available again logged", func() bool { sendOnce(); return logged(dep.name + " available again") })
	}

	last := map[string]time.Time{}
	count := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(s.logs.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Errorf("a line that is not JSON: %q", sc.Text())
			continue
		}
		count[l.Msg]++
		if l.Level != "WARN" && l.Level != "ERROR" {
			continue
		}
		// One line per dependency: the outage's own, not one per part
		// of the server that met it.
		if l.Msg != "redis unavailable" && l.Msg != "database unavailable" {
			t.Errorf("%s %q during an outage: only the dependency's own line should warn", l.Level, l.Msg)
		}
		if at, seen := last[l.Msg]; seen && l.Time.Sub(at) < 10*time.Second {
			t.Errorf("%q logged again %v after the last time, within 10 s", l.Msg, l.Time.Sub(at))
		}
		last[l.Msg] = l.Time
	}
	// Each outage is announced (again only past 10 s, checked above) and
	// its end once.
	for _, msg := range []string{"redis available again", "database available again"} {
		if count[msg] != 1 {
			t.Errorf("%q logged %d times, want once", msg, count[msg])
		}
	}
	t.Logf("%d sends; lines by message: %v", sent, count)
}
