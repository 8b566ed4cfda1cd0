package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// statusRecorder remembers the status a handler wrote, for the access log,
// and ends the answer after an error envelope (see endAnswer). It is not
// github.com/felixge/httpsnoop: what httpsnoop adds, keeping the
// optional interfaces (Flusher, Hijacker) of the writer it wraps, Unwrap
// gives http.ResponseController here, and dropping the writes after an
// envelope would take hooks as long as these two methods.
type statusRecorder struct {
	http.ResponseWriter
	status int
	// ended is set once an error envelope has been written: later
	// writes are dropped.
	ended bool
}

func (r *statusRecorder) WriteHeader(status int) {
	if r.ended {
		return
	}
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.ended {
		// The client has its answer; the writer need not know.
		return len(b), nil
	}
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// endAnswer ends the answer on w: the statusRecorder under w, when there
// is one, drops every later write. scs's session middleware writes its
// error (a session that failed to commit) before the handler's own status
// and body reach the client, and would pass those on after it.
func endAnswer(w http.ResponseWriter) {
	for {
		switch v := w.(type) {
		case *statusRecorder:
			v.ended = true
			return
		case interface{ Unwrap() http.ResponseWriter }:
			w = v.Unwrap()
		default:
			return
		}
	}
}

// Unwrap lets http.ResponseController reach the connection (for Hijack and
// deadlines) through the recorder.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// accessLog logs one line per request with its status and duration.
func accessLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", r.RemoteAddr),
		)
	})
}

// recoverPanics turns a handler panic into a logged 500 instead of a dropped
// connection: the JSON error for the API, pageError's page for a page. It
// runs inside the session middleware, which the error page reads.
func recoverPanics(logger *slog.Logger, pageError func(http.ResponseWriter, *http.Request, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				logger.ErrorContext(r.Context(), "handler panic", "panic", v, "path", r.URL.Path)
				err := chat.Errorf(chat.EINTERNAL, "internal error")
				if isAPI(r) {
					writeError(w, r, logger, err)
				} else {
					pageError(w, r, err)
				}
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy is the Content-Security-Policy of every answer.
// Scripts come only from this origin, never inline; require-trusted-types-for
// 'script' makes every DOM XSS sink (innerHTML, insertAdjacentHTML, a script's
// src, eval…) refuse plain strings, and trusted-types 'none' lets no policy be
// created to turn strings into trusted values (W3C Trusted Types, its
// require-trusted-types-for and trusted-types CSP directives): the page
// writes text with textContent only. Images may also be data: URLs: the
// icon with the unread badge is drawn on a canvas and set as one (browsers
// check an icon's URL against img-src); an image from a data: URL runs
// nothing.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'; require-trusted-types-for 'script'; trusted-types 'none'"

// strictTransportSecurity tells browsers to use only HTTPS for this host and
// its subdomains for two years (RFC 6797 §6.1). It is sent only when the
// deployment serves HTTPS (secure cookies); browsers ignore it over plain
// HTTP anyway (RFC 6797 §8.1).
const strictTransportSecurity = "max-age=63072000; includeSubDomains"

// securityHeaders sets the headers every answer carries: the
// Content-Security-Policy above, Cross-Origin-Opener-Policy: same-origin (a
// page of another origin that opens Parley gets no handle on its window),
// nosniff, the referrer policy, no framing, and, when secure is set (the
// deployment serves HTTPS), Strict-Transport-Security.
func securityHeaders(secure bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		if secure {
			h.Set("Strict-Transport-Security", strictTransportSecurity)
		}
		next.ServeHTTP(w, r)
	})
}

// sessionUserKey is the session key holding the signed-in user's ID.
const sessionUserKey = "user_id"

type ctxKey int

const (
	userIDKey ctxKey = iota
	addrKey
	schemeKey
)

// clientAddress finds the client's address and the scheme the client used,
// and puts both in the request context (see clientAddr and requestScheme).
//
// The address is the connection's, or, when the connection comes from a
// trusted proxy, the nearest address in X-Forwarded-For that is not a
// trusted proxy.
//
// The scheme is https when the request came over TLS, when the deployment
// says it serves HTTPS (secure), or when a trusted proxy sent
// X-Forwarded-Proto: https (its first value, the one the client-facing proxy
// saw); else http. A trusted proxy that forwards HTTPS to a server whose
// cookies are not Secure is a misconfiguration: the first such request logs
// a warning, once.
func clientAddress(logger *slog.Logger, trusted []netip.Prefix, secure bool, next http.Handler) http.Handler {
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	var warnOnce sync.Once
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := remoteAddr(r)
		scheme := "http"
		if r.TLS != nil || secure {
			scheme = "https"
		}
		if addr.IsValid() && isTrusted(addr) {
			proxy := addr
			if forwardedHTTPS(r.Header) {
				scheme = "https"
				if !secure {
					warnOnce.Do(func() {
						logger.WarnContext(r.Context(), "trusted proxy forwards https but -secure-cookies is off",
							"proxy", proxy.String(),
							"effect", "the session cookie is not marked Secure and no Strict-Transport-Security is sent",
							"fix", "pass -secure-cookies (PARLEY_SECURE_COOKIES=true)")
					})
				}
			}
			hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
			for i := len(hops) - 1; i >= 0; i-- {
				a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
				if err != nil {
					break // a garbled hop: trust nothing before it
				}
				addr = a.Unmap()
				if !isTrusted(addr) {
					break
				}
			}
		}
		ctx := context.WithValue(r.Context(), addrKey, addr)
		ctx = context.WithValue(ctx, schemeKey, scheme)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// forwardedHTTPS reports whether X-Forwarded-Proto says the client spoke
// HTTPS: its first value (a comma-separated list when proxies append) is
// "https", in any letter case.
func forwardedHTTPS(h http.Header) bool {
	v := h.Get("X-Forwarded-Proto")
	first, _, _ := strings.Cut(v, ",")
	return strings.EqualFold(strings.TrimSpace(first), "https")
}

func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// clientAddr returns the client's address found by clientAddress.
func clientAddr(r *http.Request) netip.Addr {
	a, _ := r.Context().Value(addrKey).(netip.Addr)
	return a
}

// requestScheme returns the scheme the client used, "http" or "https", as
// clientAddress found it; outside that middleware, https exactly when the
// request came over TLS.
func requestScheme(r *http.Request) string {
	if s, ok := r.Context().Value(schemeKey).(string); ok {
		return s
	}
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// checkOrigin puts the scheme and port into the cross-origin check of
// state-changing requests. http.CrossOriginProtection (next) trusts a
// browser's Sec-Fetch-Site, which already compares whole origins, but without
// it falls back to comparing the Origin's host with the Host header, ignoring
// scheme and port, so that https://host may post to http://host. Here a
// state-changing request that carries an Origin but no Sec-Fetch-Site must
// name the server's own origin or a trusted one (see originAllowed), or deny
// answers it. Safe methods, requests with Sec-Fetch-Site and requests with no
// Origin (not from a browser) go to next unchanged. An Origin let through is
// passed on as browsers serialize it (lower case, no default port), for
// http.CrossOriginProtection's exact comparison with the trusted origins.
func checkOrigin(trusted originSet, deny, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
		default:
			if r.Header.Get("Sec-Fetch-Site") != "" || r.Header.Get("Origin") == "" {
				break
			}
			if !originAllowed(r, trusted) {
				deny.ServeHTTP(w, r)
				return
			}
			if o, err := parseOrigin(r.Header.Get("Origin")); err == nil {
				r.Header.Set("Origin", o.String())
			}
		}
		next.ServeHTTP(w, r)
	})
}

// requireUser lets only signed-in users through and puts their ID in the
// request context.
func (s *server) requireUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := s.sessions.GetInt64(r.Context(), sessionUserKey)
		if id == 0 {
			writeError(w, r, s.logger, chat.Errorf(chat.EUNAUTHORIZED, "sign in first"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), userIDKey, chat.UserID(id))))
	})
}

// callerID returns the signed-in user's ID put there by requireUser.
func callerID(r *http.Request) chat.UserID {
	id, _ := r.Context().Value(userIDKey).(chat.UserID)
	return id
}

// origin is a web origin as RFC 6454 §4 defines it: a scheme (http or
// https), a host (lower case, an IPv6 address without brackets) and a port,
// always explicit: a URL that leaves it out has its scheme's default (80 for
// http, 443 for https), so https://host:443 and https://host are one origin.
type origin struct {
	scheme, host, port string
}

// defaultPort is the port of a scheme's URLs that name none.
func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// newOrigin makes the origin of scheme and an authority host[:port] (as in a
// URL or a Host header); ok is false when it names no host.
func newOrigin(scheme, authority string) (o origin, ok bool) {
	u := url.URL{Scheme: scheme, Host: authority}
	o = origin{scheme: scheme, host: strings.ToLower(u.Hostname()), port: u.Port()}
	if o.port == "" {
		o.port = defaultPort(scheme)
	}
	return o, o.host != ""
}

// parseOrigin reads an origin serialized as RFC 6454 §6.2 does, the form of
// the Origin header and of -origins: scheme "://" host [":" port], scheme
// http or https, nothing else (no user, path, query or fragment). Letter
// case in scheme and host does not matter; a default port may be written
// out or not.
func parseOrigin(s string) (origin, error) {
	u, err := url.Parse(s)
	if err != nil {
		return origin{}, err
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return origin{}, fmt.Errorf("origin %q: scheme must be http or https", s)
	}
	if u.Opaque != "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return origin{}, fmt.Errorf("origin %q: want scheme://host[:port] and nothing more", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return origin{}, fmt.Errorf("origin %q: bad port", s)
		}
	}
	o, ok := newOrigin(scheme, u.Host)
	if !ok {
		return origin{}, fmt.Errorf("origin %q: no host", s)
	}
	return o, nil
}

// String serializes the origin as browsers send it in the Origin header
// (RFC 6454 §6.2): the port only when it is not the scheme's default.
func (o origin) String() string {
	host := o.host
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if o.port == defaultPort(o.scheme) {
		return o.scheme + "://" + host
	}
	return o.scheme + "://" + host + ":" + o.port
}

// originSet is a set of trusted origins.
type originSet map[origin]bool

// parseOrigins reads the trusted origins of the configuration; any that is
// not an origin (see parseOrigin) is an error.
func parseOrigins(list []string) (originSet, error) {
	set := originSet{}
	for _, s := range list {
		o, err := parseOrigin(s)
		if err != nil {
			return nil, err
		}
		set[o] = true
	}
	return set, nil
}

// serverOrigin is the server's own origin as the request shows it: the
// scheme the client used (requestScheme), and the Host header's host and
// port.
func serverOrigin(r *http.Request) (origin, bool) {
	return newOrigin(requestScheme(r), r.Host)
}
