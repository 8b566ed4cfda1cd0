package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestWrongMethod: a request with a method its address does not take is
// 405 Method Not Allowed, with an Allow header naming the ones it does
// (RFC 9110 §15.5.6): the JSON error for the API, the error page for a
// page. An address nothing answers stays 404.
func TestWrongMethod(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice := register(t, s, "alice")
	for _, tc := range []struct {
		method, path string
		status       int
		allow, body  string
	}{
		{"PUT", "/api/v1/me", 405, "GET, HEAD, PATCH, DELETE", `"code":"method_not_allowed"`},
		{"DELETE", "/api/v1/conversations", 405, "GET, HEAD, POST", `"code":"method_not_allowed"`},
		{"GET", "/api/v1/auth/login", 405, "POST", `"code":"method_not_allowed"`},
		{"POST", "/api/v1/no-such-route", 404, "", `"code":"not_found"`},
		{"GET", "/logout", 405, "POST", "<h1>Not available this way</h1>"},
		{"GET", "/c/1/messages", 405, "POST", "<h1>Not available this way</h1>"},
		{"DELETE", "/settings", 405, "GET, HEAD", "<h1>Not available this way</h1>"},
		{"POST", "/no/such/page", 404, "", "<h1>Page not found</h1>"},
	} {
		req, err := http.NewRequest(tc.method, s.URL+tc.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := alice.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		body := string(raw)
		if resp.StatusCode != tc.status || resp.Header.Get("Allow") != tc.allow || !strings.Contains(body, tc.body) {
			t.Errorf("%s %s: %d, Allow %q, %s; want %d, Allow %q and %s", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Allow"), body, tc.status, tc.allow, tc.body)
		}
	}
}
