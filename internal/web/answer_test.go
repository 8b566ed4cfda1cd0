package web

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/alexedwards/scs/v2/memstore"

	"github.com/parleychat/parley/internal/chat"
)

// fullStore is a session store whose database takes no writes.
type fullStore struct{ *memstore.MemStore }

func (fullStore) Commit(string, []byte, time.Time) error {
	return chat.Unavailable("the database", errors.New("database or disk is full"))
}

// TestSessionFailureIsTheWholeAnswer: when the session cannot be stored
// after the handler has started its answer, the client gets the error
// envelope alone (503 unavailable with Retry-After), not the envelope with
// the handler's answer appended after it.
func TestSessionFailureIsTheWholeAnswer(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	sm := scs.New()
	sm.Store = fullStore{memstore.NewWithCleanupInterval(0)}
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		writeError(w, r, logger, err)
	}
	h := accessLog(logger, sm.LoadAndSave(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sm.Put(r.Context(), "seen", true)
		writeJSON(w, r, logger, http.StatusOK, map[string]string{"answer": "the real one"})
	})))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/api/v1/me", nil))
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	raw := w.Body.String()
	dec := json.NewDecoder(w.Body)
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("body %q: %v", raw, err)
	}
	if w.Code != http.StatusServiceUnavailable || body.Error.Code != chat.EUNAVAILABLE || w.Header().Get("Retry-After") == "" {
		t.Errorf("answer %d %+v Retry-After %q, want 503 unavailable with Retry-After", w.Code, body, w.Header().Get("Retry-After"))
	}
	if dec.More() {
		t.Errorf("more after the error envelope: %q", raw)
	}
}

// unreadableStore is a session store whose database cannot be read.
type unreadableStore struct{ *memstore.MemStore }

func (unreadableStore) Find(string) ([]byte, bool, error) {
	return nil, false, chat.Unavailable("the database", errors.New("connection refused"))
}

// TestSessionUnreadableAnswers: when the session cannot be read (the
// database is away), a page gets the error page (HTML, 503, Retry-After, a
// link to try again), not the API's JSON, which a browser shows raw; the
// API still gets its JSON error.
func TestSessionUnreadableAnswers(t *testing.T) {
	h, err := NewServer(Config{Logger: slog.New(slog.DiscardHandler), Sessions: unreadableStore{memstore.NewWithCleanupInterval(0)}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.AddCookie(&http.Cookie{Name: "parley_session", Value: "some-token"})
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	page := get("/c/1")
	if page.Code != http.StatusServiceUnavailable || !strings.HasPrefix(page.Header().Get("Content-Type"), "text/html") || page.Header().Get("Retry-After") == "" ||
		!strings.Contains(page.Body.String(), `href="/c/1"`) || !strings.Contains(page.Body.String(), "Try again") {
		t.Errorf("page: %d %q Retry-After %q\n%s", page.Code, page.Header().Get("Content-Type"), page.Header().Get("Retry-After"), page.Body.String())
	}
	api := get("/api/v1/me")
	if api.Code != http.StatusServiceUnavailable || !strings.HasPrefix(api.Header().Get("Content-Type"), "application/json") {
		t.Errorf("API: %d %q %s", api.Code, api.Header().Get("Content-Type"), api.Body.String())
	}
}
