package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/alexedwards/scs/v2/memstore"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

func TestParseOrigin(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want origin
	}{
		{"http://chat.example.com", origin{"http", "chat.example.com", "80"}},
		{"http://chat.example.com:80", origin{"http", "chat.example.com", "80"}},
		{"https://chat.example.com", origin{"https", "chat.example.com", "443"}},
		{"https://Chat.Example.COM:443", origin{"https", "chat.example.com", "443"}},
		{"HTTPS://chat.example.com:8443", origin{"https", "chat.example.com", "8443"}},
		{"http://127.0.0.1:8080", origin{"http", "127.0.0.1", "8080"}},
		{"http://[::1]:8080", origin{"http", "::1", "8080"}},
		{"https://[::1]", origin{"https", "::1", "443"}},
	} {
		got, err := parseOrigin(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseOrigin(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "null", "chat.example.com", "ftp://chat.example.com", "ws://chat.example.com",
		"https://chat.example.com/", "https://chat.example.com/path", "https://chat.example.com?q", "https://chat.example.com#f",
		"https://user@chat.example.com", "https://", "https://chat.example.com:0", "https://chat.example.com:70000", "https://chat.example.com:x"} {
		if o, err := parseOrigin(bad); err == nil {
			t.Errorf("parseOrigin(%q) = %+v, want an error", bad, o)
		}
	}
}

func TestOriginString(t *testing.T) {
	for in, want := range map[string]string{
		"https://Chat.example.com:443": "https://chat.example.com",
		"http://chat.example.com:80":   "http://chat.example.com",
		"http://chat.example.com:443":  "http://chat.example.com:443",
		"https://[::1]:8443":           "https://[::1]:8443",
		"https://[::1]:443":            "https://[::1]",
	} {
		o, err := parseOrigin(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := o.String(); got != want {
			t.Errorf("%q: String() = %q, want %q", in, got, want)
		}
	}
}

// through runs a request through clientAddress and returns what the next
// handler saw: the scheme and the client address.
func through(t *testing.T, trusted []netip.Prefix, secure bool, r *http.Request, logger *slog.Logger) (string, netip.Addr) {
	t.Helper()
	var scheme string
	var addr netip.Addr
	h := clientAddress(logger, trusted, secure, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, addr = requestScheme(r), clientAddr(r)
	}))
	h.ServeHTTP(httptest.NewRecorder(), r)
	return scheme, addr
}

func TestRequestScheme(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.10/32")}
	discard := slog.New(slog.DiscardHandler)
	req := func(remote, proto string, tlsConn bool) *http.Request {
		r := httptest.NewRequest("GET", "http://chat.example.com/", nil)
		r.RemoteAddr = remote
		if proto != "" {
			r.Header.Set("X-Forwarded-Proto", proto)
		}
		if tlsConn {
			r.TLS = &tls.ConnectionState{}
		}
		return r
	}
	for _, tc := range []struct {
		name    string
		r       *http.Request
		trusted []netip.Prefix
		secure  bool
		want    string
	}{
		{"plain http", req("192.0.2.1:1234", "", false), nil, false, "http"},
		{"TLS", req("192.0.2.1:1234", "", true), nil, false, "https"},
		{"secure cookies", req("192.0.2.1:1234", "", false), nil, true, "https"},
		{"trusted proxy says https", req("10.0.0.10:1234", "https", false), proxy, false, "https"},
		{"trusted proxy says HTTPS, first of a list", req("10.0.0.10:1234", "HTTPS, http", false), proxy, false, "https"},
		{"trusted proxy says http", req("10.0.0.10:1234", "http", false), proxy, false, "http"},
		{"trusted proxy says http, secure cookies", req("10.0.0.10:1234", "http", false), proxy, true, "https"},
		{"untrusted peer says https", req("192.0.2.1:1234", "https", false), proxy, false, "http"},
	} {
		if got, _ := through(t, tc.trusted, tc.secure, tc.r, discard); got != tc.want {
			t.Errorf("%s: scheme %q, want %q", tc.name, got, tc.want)
		}
	}
	// Outside the middleware: TLS alone decides.
	if got := requestScheme(req("192.0.2.1:1234", "https", false)); got != "http" {
		t.Errorf("bare request: %q", got)
	}
	if got := requestScheme(req("192.0.2.1:1234", "", true)); got != "https" {
		t.Errorf("bare TLS request: %q", got)
	}
}

// TestProxyHTTPSWarning: a trusted proxy that forwards HTTPS while cookies
// are not Secure is warned about once, not on every request; with secure
// cookies, or from an untrusted peer, never.
func TestProxyHTTPSWarning(t *testing.T) {
	proxy := []netip.Prefix{netip.MustParsePrefix("10.0.0.10/32")}
	for _, tc := range []struct {
		name   string
		remote string
		secure bool
		want   int
	}{
		{"trusted proxy, cookies not secure", "10.0.0.10:1234", false, 1},
		{"trusted proxy, secure cookies", "10.0.0.10:1234", true, 0},
		{"untrusted peer", "192.0.2.1:1234", false, 0},
	} {
		var logs bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&logs, nil))
		h := clientAddress(logger, proxy, tc.secure, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		for range 3 {
			r := httptest.NewRequest("GET", "http://chat.example.com/", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-Forwarded-Proto", "https")
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		if got := strings.Count(logs.String(), "-secure-cookies is off"); got != tc.want {
			t.Errorf("%s: %d warnings, want %d:\n%s", tc.name, got, tc.want, logs.String())
		}
		if tc.want > 0 && (!strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "proxy=10.0.0.10")) {
			t.Errorf("%s: the warning is not a WARN naming the proxy:\n%s", tc.name, logs.String())
		}
	}
}

// originRequest is a request to host, through clientAddress with the given
// scheme settings, carrying Origin origin.
func originRequest(method, host, originHeader string, tlsConn bool) *http.Request {
	r := httptest.NewRequest(method, "http://"+host+"/api/v1/auth/logout", nil)
	r.Host = host
	r.RemoteAddr = "192.0.2.1:1234"
	if originHeader != "" {
		r.Header.Set("Origin", originHeader)
	}
	if tlsConn {
		r.TLS = &tls.ConnectionState{}
	}
	return r
}

func TestOriginAllowed(t *testing.T) {
	trusted, err := parseOrigins([]string{"https://app.example.com", "http://localhost:3000", "https://Other.example.com:443"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		host   string
		origin string
		tls    bool
		secure bool
		want   bool
	}{
		{"no Origin", "chat.example.com", "", false, false, true},
		{"own origin over http", "chat.example.com", "http://chat.example.com", false, false, true},
		{"own origin, host in another case", "Chat.Example.com", "http://chat.example.com", false, false, true},
		{"https Origin to an http server", "chat.example.com", "https://chat.example.com", false, false, false},
		{"http Origin to a TLS server", "chat.example.com", "http://chat.example.com", true, false, false},
		{"http Origin to a secure-cookies server", "chat.example.com", "http://chat.example.com", false, true, false},
		{"https Origin to a secure-cookies server", "chat.example.com", "https://chat.example.com", false, true, true},
		{"default port written out", "chat.example.com:443", "https://chat.example.com", true, false, true},
		{"default port in the Origin", "chat.example.com", "https://chat.example.com:443", true, false, true},
		{"port mismatch", "chat.example.com:8080", "http://chat.example.com:8081", false, false, false},
		{"port missing from the Origin", "chat.example.com:8080", "http://chat.example.com", false, false, false},
		{"same port", "127.0.0.1:8080", "http://127.0.0.1:8080", false, false, true},
		{"IPv6", "[::1]:8080", "http://[::1]:8080", false, false, true},
		{"foreign host", "chat.example.com", "http://evil.example", false, false, false},
		{"foreign host, same-looking port", "chat.example.com:8080", "http://evil.example:8080", false, false, false},
		{"null Origin", "chat.example.com", "null", false, false, false},
		{"Origin with a path", "chat.example.com", "http://chat.example.com/x", false, false, false},
		{"listed origin", "chat.example.com", "https://app.example.com", false, false, true},
		{"listed origin, default port written out", "chat.example.com", "https://app.example.com:443", false, false, true},
		{"listed with its default port", "chat.example.com", "https://other.example.com", false, false, true},
		{"listed origin with another scheme", "chat.example.com", "http://app.example.com", false, false, false},
		{"listed origin with another port", "chat.example.com", "http://localhost:3001", false, false, false},
		{"listed origin with its port", "chat.example.com", "http://localhost:3000", false, false, true},
	} {
		r := originRequest("GET", tc.host, tc.origin, tc.tls)
		var got bool
		h := clientAddress(slog.New(slog.DiscardHandler), nil, tc.secure, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = originAllowed(r, trusted)
		}))
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != tc.want {
			t.Errorf("%s: Host %s, Origin %q, tls=%v secure=%v: allowed=%v, want %v", tc.name, tc.host, tc.origin, tc.tls, tc.secure, got, tc.want)
		}
	}
}

func TestParseOriginsRefusesGarbage(t *testing.T) {
	if _, err := parseOrigins([]string{"https://ok.example", "chat.example.com"}); err == nil {
		t.Error("a host without a scheme was accepted as an origin")
	}
}

// TestCheckOrigin: state-changing requests without Sec-Fetch-Site are held
// to the whole origin; safe methods, requests with Sec-Fetch-Site (left to
// http.CrossOriginProtection) and requests without Origin pass.
func TestCheckOrigin(t *testing.T) {
	trusted, err := parseOrigins([]string{"https://app.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) })
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h := clientAddress(slog.New(slog.DiscardHandler), nil, false, checkOrigin(trusted, deny, ok))
	for _, tc := range []struct {
		name, method, origin, fetchSite string
		want                            int
	}{
		{"POST from own origin", "POST", "http://chat.example.com", "", 204},
		{"POST from https to http", "POST", "https://chat.example.com", "", 403},
		{"DELETE from another port", "DELETE", "http://chat.example.com:8080", "", 403},
		{"POST from a listed origin", "POST", "https://app.example.com", "", 204},
		{"POST without Origin", "POST", "", "", 204},
		{"GET from https", "GET", "https://chat.example.com", "", 204},
		{"POST with Sec-Fetch-Site is left to CrossOriginProtection", "POST", "https://chat.example.com", "same-origin", 204},
	} {
		r := originRequest(tc.method, "chat.example.com", tc.origin, false)
		if tc.fetchSite != "" {
			r.Header.Set("Sec-Fetch-Site", tc.fetchSite)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, rec.Code, tc.want)
		}
	}
}

func TestSecurityHeaders(t *testing.T) {
	for _, secure := range []bool{false, true} {
		rec := httptest.NewRecorder()
		securityHeaders(secure, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		h := rec.Header()
		if got := h.Get("Cross-Origin-Opener-Policy"); got != "same-origin" {
			t.Errorf("secure=%v: Cross-Origin-Opener-Policy %q", secure, got)
		}
		csp := h.Get("Content-Security-Policy")
		for _, d := range []string{"default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "require-trusted-types-for 'script'", "trusted-types 'none'"} {
			if !strings.Contains(csp, d) {
				t.Errorf("secure=%v: CSP %q lacks %q", secure, csp, d)
			}
		}
		hsts := h.Get("Strict-Transport-Security")
		if secure && hsts != "max-age=63072000; includeSubDomains" {
			t.Errorf("secure cookies: Strict-Transport-Security %q", hsts)
		}
		if !secure && hsts != "" {
			t.Errorf("plain http: Strict-Transport-Security %q", hsts)
		}
	}
}

// TestNewServerTrustedOrigins: NewServer refuses a trusted origin that is
// not one, and a listed origin written with its default port still passes
// the cross-origin protection (which compares the Origin header exactly).
func TestNewServerTrustedOrigins(t *testing.T) {
	if _, err := NewServer(Config{Logger: slog.New(slog.DiscardHandler), TrustedOrigins: []string{"chat.example.com"}}); err == nil {
		t.Error("NewServer accepted a trusted origin without a scheme")
	}
	h, err := NewServer(Config{Logger: slog.New(slog.DiscardHandler), Sessions: memstore.NewWithCleanupInterval(0), TrustedOrigins: []string{"https://App.example.com:443"}})
	if err != nil {
		t.Fatal(err)
	}
	for origin, want := range map[string]int{
		"https://app.example.com": http.StatusNotFound, // through to the router: no such route
		"http://app.example.com":  http.StatusForbidden,
		"https://evil.example":    http.StatusForbidden,
	} {
		r := httptest.NewRequest("POST", "http://chat.example.com/api/v1/nowhere", nil)
		r.Header.Set("Origin", origin)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != want {
			t.Errorf("Origin %s (cross-site): %d, want %d: %s", origin, rec.Code, want, rec.Body)
		}
	}
}

// membersFailingStore is a store whose member lists cannot be read.
type membersFailingStore struct{ chat.Store }

func (membersFailingStore) Members(context.Context, chat.ConversationID) ([]chat.UserID, error) {
	return nil, errors.New("disk on fire")
}

type originTestHasher struct{}

func (originTestHasher) Hash(p string) (string, error)    { return "plain:" + p, nil }
func (originTestHasher) Verify(h, p string) (bool, error) { return h == "plain:"+p, nil }

// TestFrameInternalErrorCause: a frame that fails inside is answered with a
// bare internal error, and the error behind it comes back to be logged.
func TestFrameInternalErrorCause(t *testing.T) {
	svc, err := chat.NewService(chat.ServiceConfig{Store: membersFailingStore{}, Hasher: originTestHasher{}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	reply, cause := frameHandler{svc: svc, user: 1}.carryOut(context.Background(), "conn", []byte(`{"type":"typing","conversation_id":1}`))
	e, ok := reply.(wire.ErrorFrame)
	if !ok || e.Code != chat.EINTERNAL || strings.Contains(e.Message, "disk") {
		t.Errorf("reply %+v, want an internal error frame that names no cause", reply)
	}
	if cause == nil || !strings.Contains(cause.Error(), "disk on fire") {
		t.Errorf("cause %v, want the store's error", cause)
	}
	// A frame refused for what it says has its reason as the cause too, and
	// handle gives the same reply.
	data := []byte(`{"type":"typing"}`)
	reply, cause = frameHandler{svc: svc, user: 1}.carryOut(context.Background(), "conn", data)
	if e, ok := reply.(wire.ErrorFrame); !ok || e.Code != chat.EINVALID || cause == nil {
		t.Errorf("invalid frame: reply %+v, cause %v", reply, cause)
	}
	if again := (frameHandler{svc: svc, user: 1}).handle(context.Background(), "conn", data); again != reply {
		t.Errorf("handle %+v, carryOut %+v", again, reply)
	}
}
