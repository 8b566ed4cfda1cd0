package web

import (
	"net/http"
	"strings"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// probedMethods are the methods a path's routes are looked up for when a
// request's own method has none.
var probedMethods = [...]string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// handleUnrouted answers a request that no route of mux takes: 405 Method
// Not Allowed with an Allow header naming the methods that path does take
// (RFC 9110 §15.5.6), or 404 when it takes none. ServeMux answers 405 by
// itself only when no pattern matches at all, and the catch-all patterns
// ("/" and "/api/") match every method, so this handler asks mux again
// for each other method. Paths under /api/ get the JSON error envelope
// (code "method_not_allowed" or "not_found"), pages the error page.
func (s *server) handleUnrouted(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		allow := allowedMethods(mux, r)
		switch {
		case len(allow) == 0 && isAPI(r):
			writeError(w, r, s.logger, chat.NotFound("route"))
		case len(allow) == 0:
			s.pageError(w, r, chat.NotFound("page"))
		case isAPI(r):
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeJSON(w, r, s.logger, http.StatusMethodNotAllowed, wire.Error{Error: wire.ErrorBody{
				Code:    "method_not_allowed",
				Message: "method not allowed: use " + strings.Join(allow, ", "),
			}})
		default:
			w.Header().Set("Allow", strings.Join(allow, ", "))
			s.methodNotAllowedPage(w, r)
		}
	})
}

// allowedMethods returns the methods for which mux has a route, other than
// a catch-all, for r's host and path.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	probe := r.Clone(r.Context())
	for _, m := range probedMethods {
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" && pattern != "/api/" {
			allow = append(allow, m)
		}
	}
	return allow
}

// isAPI reports whether r is for the JSON API (or the WebSocket, whose
// refusals before the upgrade are JSON too) rather than a page.
func isAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/api/") || r.URL.Path == "/ws"
}

// methodNotAllowedPage is the error page for a page address asked with a
// method it does not take: a form's address opened in the address bar, say.
func (s *server) methodNotAllowedPage(w http.ResponseWriter, r *http.Request) {
	p := &problemView{
		Heading:  "Not available this way",
		Text:     "This address is only for the app's forms and buttons.",
		LinkHref: "/login",
		LinkText: "Go to the log-in page",
	}
	if s.sessions.GetInt64(r.Context(), sessionUserKey) != 0 {
		p.LinkHref, p.LinkText = "/", "Back to your conversations"
	}
	s.pages.render(w, r, s.logger, "error", http.StatusMethodNotAllowed, pageData{Title: p.Heading + " · Parley", Problem: p})
}
