package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/wire"
)

// floodAnswer is what one request of a login flood got back.
type floodAnswer struct {
	form       bool // a form post to /login, not the JSON API
	status     int
	retryAfter string
	code       string // the JSON error code (API answers)
	body       string
	err        error
}

// floodLogin posts one failing login, as JSON to the API or as the login
// form, from the client address from (the server trusts 127.0.0.1's
// X-Forwarded-For).
func floodLogin(hc *http.Client, base, from, username, password string, form bool) floodAnswer {
	a := floodAnswer{form: form}
	var req *http.Request
	if form {
		req, a.err = http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"username": {username}, "password": {password}}.Encode()))
		if a.err == nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	} else {
		body, _ := json.Marshal(wire.LoginRequest{Username: username, Password: password})
		req, a.err = http.NewRequest("POST", base+"/api/v1/auth/login", bytes.NewReader(body))
		if a.err == nil {
			req.Header.Set("Content-Type", "application/json")
		}
	}
	if a.err != nil {
		return a
	}
	req.Header.Set("X-Forwarded-For", from)
	resp, err := hc.Do(req)
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		a.err = err
		return a
	}
	a.status, a.retryAfter, a.body = resp.StatusCode, resp.Header.Get("Retry-After"), string(raw)
	if !form && resp.StatusCode != http.StatusOK {
		var e wire.Error
		if err := json.Unmarshal(raw, &e); err != nil {
			a.err = fmt.Errorf("status %d without an error envelope: %q", resp.StatusCode, raw)
		}
		a.code = e.Error.Code
	}
	return a
}

// TestLoginFloodRefusedNotHashed: a flood of parallel failing logins
// (unknown usernames, and a few wrong passwords for a real account) against
// a server that may hash one password at a time is answered, beyond the
// few it hashes or queues, with 503 `unavailable` and Retry-After (a clear
// message on the login form), never 500, while /healthz keeps answering
// 200; afterwards the real account logs in.
func TestLoginFloodRefusedNotHashed(t *testing.T) {
	// One hash at a time and four waiting: the flood costs the machine
	// about one core, so this runs alongside the other tests.
	t.Parallel()
	s := startServer(t, map[string]string{
		"PARLEY_HASH_CONCURRENCY": "1",
		"PARLEY_TRUSTED_PROXIES":  "127.0.0.1",
	})
	alice := register(t, s, "alice")

	const (
		perWave    = 200
		wrongAlice = 4 // fewer than the 5 free failures: alice is not throttled
		formEvery  = 10
	)
	// A queued login waits for up to five hashes, and under -race on a
	// loaded machine one hash can take seconds: each request, and the
	// waves together, get four times the usual patience.
	hc := &http.Client{Timeout: 4 * patience, Transport: &http.Transport{MaxIdleConnsPerHost: perWave}}
	defer hc.CloseIdleConnections()
	counts := map[int]int{}
	var saw503, sawForm503, healthzDuring bool
	deadline := time.Now().Add(4 * patience)
	// Each wave comes from a new address, so that the address throttle
	// (which answers 429 without hashing) does not stop the next one. A
	// wave is repeated only if it ended before /healthz could answer
	// within it or before a form was refused: both are a matter of timing.
	for wave := 1; !(saw503 && sawForm503 && healthzDuring); wave++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d waves: saw 503 %v, form 503 %v, /healthz answered during a flood %v; statuses %v",
				wave-1, saw503, sawForm503, healthzDuring, counts)
		}
		from := fmt.Sprintf("198.51.100.%d", wave)
		answers := make([]floodAnswer, perWave)
		var flood sync.WaitGroup
		var flooding atomic.Bool
		flooding.Store(true)
		start := make(chan struct{})
		for i := range perWave {
			username, password := fmt.Sprintf("nobody-%d-%d", wave, i), "wrong-password"
			if wave == 1 && i < wrongAlice {
				username = "alice"
			}
			flood.Go(func() {
				<-start
				answers[i] = floodLogin(hc, s.URL, from, username, password, i%formEvery == formEvery-1)
			})
		}
		// /healthz, asked again and again while the wave is out.
		var health sync.WaitGroup
		var healthStatuses []int
		var healthErr error
		var during bool
		health.Go(func() {
			<-start
			for flooding.Load() {
				resp, err := hc.Get(s.URL + "/healthz")
				if err != nil {
					healthErr = err
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				healthStatuses = append(healthStatuses, resp.StatusCode)
				if flooding.Load() {
					during = true
				}
			}
		})
		close(start)
		flood.Wait()
		flooding.Store(false)
		health.Wait()

		if healthErr != nil {
			t.Fatalf("/healthz during the flood: %v", healthErr)
		}
		for _, st := range healthStatuses {
			if st != http.StatusOK {
				t.Fatalf("/healthz answered %d during the flood (all: %v)", st, healthStatuses)
			}
		}
		healthzDuring = healthzDuring || during
		for i, a := range answers {
			if a.err != nil {
				t.Fatalf("wave %d, login %d: %v", wave, i, a.err)
			}
			counts[a.status]++
			switch a.status {
			case http.StatusUnauthorized, http.StatusTooManyRequests:
			case http.StatusServiceUnavailable:
				if n, err := strconv.Atoi(a.retryAfter); err != nil || n < 1 {
					t.Errorf("503 with Retry-After %q", a.retryAfter)
				}
				if a.form {
					sawForm503 = true
					if !strings.Contains(a.body, "The server is busy. Try again in ") {
						t.Errorf("login form refused without saying the server is busy:\n%s", a.body)
					}
				} else {
					saw503 = true
					if a.code != "unavailable" {
						t.Errorf("503 with code %q, want unavailable", a.code)
					}
				}
			default:
				t.Fatalf("wave %d, login %d: status %d (code %q), want 401, 429 or 503: %s", wave, i, a.status, a.code, a.body)
			}
		}
	}
	t.Logf("statuses over the flood: %v", counts)

	// The flood is over: the real account logs in (from an address the
	// flood did not throttle).
	var resp wire.UserResponse
	status, raw := alice.do("POST", "/api/v1/auth/login", wire.LoginRequest{Username: "alice", Password: "password-alice"}, "X-Forwarded-For", "203.0.113.7")
	if status != http.StatusOK || json.Unmarshal(raw, &resp) != nil || resp.User.ID != alice.user.ID {
		t.Fatalf("alice's login after the flood: %d %s", status, raw)
	}
}
