package web

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2"
)

// TestPanicAnswers: a handler that panics gets a 500 in the form its
// caller reads: the error page for a page, the JSON envelope for the API,
// neither showing the panic's value.
func TestPanicAnswers(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	sm := scs.New()
	s := &server{pages: p, sessions: sm, logger: logger}
	h := sm.LoadAndSave(recoverPanics(logger, s.pageError, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		panic("disk on fire")
	})))
	for _, tc := range []struct {
		path, contentType, want string
	}{
		{"/c/1", "text/html; charset=utf-8", "<h1>Something went wrong</h1>"},
		{"/settings", "text/html; charset=utf-8", `href="/login"`},
		{"/api/v1/me", "application/json", `{"error":{"code":"internal","message":"internal error"}}`},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", tc.path, nil))
		body := w.Body.String()
		if w.Code != http.StatusInternalServerError || w.Header().Get("Content-Type") != tc.contentType || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d %q %q, want 500 %q with %q", tc.path, w.Code, w.Header().Get("Content-Type"), body, tc.contentType, tc.want)
		}
		if strings.Contains(body, "disk on fire") {
			t.Errorf("%s: the answer shows the panic", tc.path)
		}
	}
	if !strings.Contains(logs.String(), "disk on fire") {
		t.Errorf("the panic was not logged: %s", logs.String())
	}
}
