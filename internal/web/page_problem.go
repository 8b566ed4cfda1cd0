package web

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/parleychat/parley/internal/chat"
)

// pageError answers a page request that failed with the error page, in
// the layout of every page, with the status of the error's code. A
// conversation that does not exist and one the visitor is not in get the
// same page, byte for byte: the page says nothing of the address asked for.
func (s *server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	p := problemFor(err)
	p.LinkHref, p.LinkText = "/login", "Go to the log-in page"
	if s.sessions.GetInt64(r.Context(), sessionUserKey) != 0 {
		p.LinkHref, p.LinkText = "/", "Back to your conversations"
	}
	s.pages.renderProblem(w, r, s.logger, err, p)
}

// problemFor is what the error page says of err; its link is the caller's.
func problemFor(err error) *problemView {
	p := &problemView{}
	switch chat.ErrorCode(err) {
	case chat.ENOTFOUND:
		p.Heading = "Page not found"
		p.Text = "There is no page at this address, or it is not yours to see."
	case chat.EINTERNAL:
		p.Heading = "Something went wrong"
		p.Text = "The server could not answer this time. Try again in a moment."
	default:
		p.Heading = http.StatusText(statusOf(chat.ErrorCode(err)))
		p.Text = waitMessage(err)
	}
	return p
}

// renderProblem answers with the error page saying prob, with the status of
// err's code (and its Retry-After); an internal error is logged with its
// route and cause.
func (p *pages) renderProblem(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error, prob *problemView) {
	code := chat.ErrorCode(err)
	if code == chat.EINTERNAL {
		logger.ErrorContext(r.Context(), "internal error", "route", r.Pattern, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	setRetryAfter(w, err)
	p.render(w, r, logger, "error", statusOf(code), pageData{Title: prob.Heading + " · Parley", Problem: prob})
}

// waitMessage is an error's message as a sentence, and for one that says
// when to try again (rate limits, a limiter that cannot answer) how long
// that is, instead of "later": "Too many failed attempts. Try again in 2
// minutes."
func waitMessage(err error) string {
	msg := chat.ErrorMessage(err)
	d := chat.RetryAfter(err)
	if d <= 0 {
		return sentence(msg)
	}
	// The messages say "what: try again later" or "what: slow down"; the
	// part before the colon says what happened.
	what, _, _ := strings.Cut(msg, ":")
	return sentence(what) + " Try again in " + waitPhrase(d) + "."
}

// waitPhrase says a wait in words, rounded up (never shorter than the
// Retry-After header's whole seconds): seconds under two minutes, minutes
// under two hours, else hours.
func waitPhrase(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	up := func(unit time.Duration) int64 { return int64((d + unit - 1) / unit) }
	switch {
	case d < 2*time.Minute:
		return plural(up(time.Second), "second")
	case d < 2*time.Hour:
		return plural(up(time.Minute), "minute")
	}
	return plural(up(time.Hour), "hour")
}

// sentence capitalizes an error message for a page.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:] + "."
}
