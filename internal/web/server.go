// Package web is Parley's HTTP face: the JSON API, sessions, cross-origin
// protection, security headers and the access log. NewServer wires it all
// into one http.Handler; routes.go lists every route.
package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/hub"
)

// Config is what the web server needs from the rest of the program.
type Config struct {
	// ReadyChecks are what /readyz asks, by name: the database, the broker.
	ReadyChecks map[string]func(context.Context) error
	Logger      *slog.Logger
	Service     *chat.Service
	// Sessions stores HTTP sessions (a scs.Store; a scs.CtxStore is used
	// with request contexts).
	Sessions scs.Store
	// SecureCookies marks the session cookie Secure and gives it the
	// __Host- prefix; set it when Parley is served over HTTPS. It also
	// sends Strict-Transport-Security and makes the server's own origin an
	// https one (see clientAddress).
	SecureCookies bool
	// TrustedOrigins are other origins (scheme://host[:port], RFC 6454)
	// allowed to make state-changing requests and open WebSockets, beside
	// the server's own. Scheme, host and port must all match; a default
	// port may be written or not.
	TrustedOrigins []string
	// SessionIdleTimeout ends a session unused for this long.
	SessionIdleTimeout time.Duration
	// SessionLifetime ends any session this long after login.
	SessionLifetime time.Duration
	// Hub holds this node's WebSocket connections.
	Hub *hub.Hub
	// WebSocketTimeout drops a WebSocket peer silent this long; the hub's
	// pings must come more often.
	WebSocketTimeout time.Duration
	// MaxConnsPerUser caps one user's WebSockets: on this node, and over
	// the cluster when Connections is set; 0 means no cap.
	MaxConnsPerUser int
	// Connections counts each user's WebSockets over every node, for
	// MaxConnsPerUser; nil means this node's count only.
	Connections chat.ConnectionCounter
	// MaxUpload is the largest file an upload takes, in bytes (the
	// service's limit; the request body may carry this much beside a
	// multipart body's headers); 0 means chat.DefaultMaxUpload.
	MaxUpload int64
	// TrustedProxies are the addresses of reverse proxies whose
	// X-Forwarded-For is believed; for anyone else the client address is the
	// connection's.
	TrustedProxies []netip.Prefix
}

// server holds the dependencies handlers are made from.
type server struct {
	logger         *slog.Logger
	service        *chat.Service
	sessions       *scs.SessionManager
	hub            *hub.Hub
	trustedOrigins originSet
	wsTimeout      time.Duration
	maxConns       connCap
	pages          *pages
	readyChecks    map[string]func(context.Context) error
	maxUpload      int64
}

// CheckOrigins reports whether list holds only origins NewServer takes as
// Config.TrustedOrigins (scheme://host[:port], http or https), so that a
// wrong setting is found before anything starts.
func CheckOrigins(list []string) error {
	_, _, err := trustedOrigins(list)
	return err
}

// trustedOrigins reads the trusted origins and gives them to a cross-origin
// protection.
func trustedOrigins(list []string) (originSet, *http.CrossOriginProtection, error) {
	trusted, err := parseOrigins(list)
	if err != nil {
		return nil, nil, fmt.Errorf("trusted origin: %w", err)
	}
	cop := http.NewCrossOriginProtection()
	for o := range trusted {
		// As browsers serialize it, for the exact comparison the
		// protection makes.
		if err := cop.AddTrustedOrigin(o.String()); err != nil {
			return nil, nil, fmt.Errorf("trusted origin %q: %w", o, err)
		}
	}
	return trusted, cop, nil
}

// NewServer returns the HTTP handler of the whole application.
func NewServer(cfg Config) (http.Handler, error) {
	sm := scs.New()
	sm.Store = bindingStore{Store: cfg.Sessions, codec: sm.Codec, svc: cfg.Service, refresh: idleRefresh(cfg.SessionIdleTimeout)}
	sm.Lifetime = cfg.SessionLifetime
	sm.IdleTimeout = cfg.SessionIdleTimeout
	sm.HashTokenInStore = true // a leaked sessions table holds no usable tokens
	sm.Cookie.Name = "parley_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	if cfg.SecureCookies {
		sm.Cookie.Secure = true
		sm.Cookie.Name = "__Host-parley_session"
	}

	trusted, cop, err := trustedOrigins(cfg.TrustedOrigins)
	if err != nil {
		return nil, err
	}
	pg, err := parsePages()
	if err != nil {
		return nil, err
	}
	// A session that cannot be read or saved (the database is away) fails
	// the request: the API's answer is the JSON error, a page's the error
	// page (the session is not there to say who is asking, so its link is
	// to the start).
	sm.ErrorFunc = func(w http.ResponseWriter, r *http.Request, err error) {
		err = fmt.Errorf("session: %w", err)
		if isAPI(r) {
			writeError(w, r, cfg.Logger, err)
			return
		}
		p := problemFor(err)
		p.LinkHref, p.LinkText = r.URL.RequestURI(), "Try again"
		pg.renderProblem(w, r, cfg.Logger, err, p)
	}
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isAPI(r) {
			writeError(w, r, cfg.Logger, chat.Errorf(chat.EFORBIDDEN, "cross-origin request refused"))
			return
		}
		// A form sent from another site: the error page, before the
		// session is read (this runs outside it), so its link is to the
		// start, which sends a visitor who is not signed in to log in.
		pg.render(w, r, cfg.Logger, "error", http.StatusForbidden, pageData{Title: "Refused · Parley", Problem: &problemView{
			Heading:  "Refused",
			Text:     "This form was sent from another site, so nothing was done.",
			LinkHref: "/",
			LinkText: "Go to Parley",
		}})
	})
	cop.SetDenyHandler(deny)
	s := &server{pages: pg, readyChecks: cfg.ReadyChecks, logger: cfg.Logger, service: cfg.Service, sessions: sm, hub: cfg.Hub, trustedOrigins: trusted, wsTimeout: cfg.WebSocketTimeout, maxConns: connCap{max: cfg.MaxConnsPerUser, counter: cfg.Connections}, maxUpload: cfg.MaxUpload}
	if s.maxUpload <= 0 {
		s.maxUpload = chat.DefaultMaxUpload
	}
	mux := http.NewServeMux()
	s.routes(mux)

	var h http.Handler = mux
	h = checkQuery(cfg.Logger, s.pageError, h)
	h = recoverPanics(cfg.Logger, s.pageError, h)
	h = loadAndSave(sm, h)
	h = cop.Handler(h)
	h = checkOrigin(trusted, deny, h)
	h = securityHeaders(cfg.SecureCookies, h)
	h = clientAddress(cfg.Logger, cfg.TrustedProxies, cfg.SecureCookies, h)
	h = accessLog(cfg.Logger, h)
	return h, nil
}
