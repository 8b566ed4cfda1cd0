package web

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestReadyzNamesOnlyWhatIsDown: a dependency that stalls is named, and
// does not take the time of the others' checks, which a stalled database
// once did to Redis's; a dependency down for many probes is logged once.
func TestReadyzNamesOnlyWhatIsDown(t *testing.T) {
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	checks := map[string]func(context.Context) error{
		"database": func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, // stalled
		"redis": func(ctx context.Context) error {
			if ctx.Err() != nil {
				return errors.New("no time left to check")
			}
			return nil
		},
	}
	h := (&server{logger: logger, readyChecks: checks}).handleReadyz()
	for range 2 {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
		if w.Code != http.StatusServiceUnavailable || w.Body.String() != "unavailable: database\n" {
			t.Fatalf("/readyz = %d %q, want 503 naming the database alone", w.Code, w.Body.String())
		}
	}
	if n := strings.Count(logs.String(), `"not ready"`); n != 1 {
		t.Errorf("two probes while the database is down logged %d lines, want 1:\n%s", n, logs.String())
	}

	ok := (&server{logger: logger, readyChecks: map[string]func(context.Context) error{"database": func(context.Context) error { return nil }}}).handleReadyz()
	w := httptest.NewRecorder()
	ok.ServeHTTP(w, httptest.NewRequest("GET", "/readyz", nil))
	if w.Code != http.StatusOK || w.Body.String() != "ok\n" {
		t.Errorf("/readyz with everything up = %d %q", w.Code, w.Body.String())
	}
}
