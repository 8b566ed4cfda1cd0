package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// maxBody caps every API request body.
const maxBody = 1 << 20

// statusOf maps domain error codes to HTTP statuses: the one place where
// that mapping lives.
func statusOf(code string) int {
	switch code {
	case chat.EINVALID:
		return http.StatusBadRequest
	case chat.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case chat.EFORBIDDEN:
		return http.StatusForbidden
	case chat.ENOTFOUND:
		return http.StatusNotFound
	case chat.ECONFLICT:
		return http.StatusConflict
	case chat.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case chat.ERATELIMITED:
		return http.StatusTooManyRequests
	case chat.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeError answers with the JSON error envelope, and that is the whole
// answer: whatever the handler writes after it is dropped (see
// statusRecorder), so that a failure found once the handler had started
// (the session failing to commit) never gets the handler's answer appended
// to its own. Internal errors are logged with their route and cause and
// shown only as "internal error". An unavailable dependency is logged at
// debug level only: the dependency's own outage log says it, once per 10 s.
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	code := chat.ErrorCode(err)
	switch code {
	case chat.EINTERNAL:
		logger.ErrorContext(r.Context(), "internal error", "route", r.Pattern, "method", r.Method, "path", r.URL.Path, "err", err)
	case chat.EUNAVAILABLE:
		logger.DebugContext(r.Context(), "unavailable", "route", r.Pattern, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	setRetryAfter(w, err)
	writeJSON(w, r, logger, statusOf(code), wire.Error{Error: wire.ErrorBody{Code: code, Message: chat.ErrorMessage(err)}})
	endAnswer(w)
}

// setRetryAfter tells a rate-limited or unavailable client, in whole
// seconds, when to try again.
func setRetryAfter(w http.ResponseWriter, err error) {
	if d := chat.RetryAfter(err); d > 0 {
		w.Header().Set("Retry-After", strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10))
	}
}

// writeJSON answers with v encoded as JSON.
func writeJSON(w http.ResponseWriter, r *http.Request, logger *slog.Logger, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		logger.ErrorContext(r.Context(), "encode response", "err", err)
		http.Error(w, `{"error":{"code":"internal","message":"internal error"}}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n')) // the status is sent; a failed write means the client left
}

// decodeJSON reads exactly one JSON object of type T from the request body:
// at most maxBody bytes (else ETOOLARGE), then as decodeObject says (else
// EINVALID).
func decodeJSON[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return v, jsonError(err)
	}
	return v, decodeObject(body, &v, "request body")
}

// strictJSON are the decoding options of decodeObject. JSON keys are
// matched to the json tags of v exactly: a key in another letter case is
// unknown, and an unknown key or one given twice is refused. Otherwise a
// client and the server (or a proxy, or a log reader) could disagree on
// what a body says: encoding/json matches keys in any case and lets the
// last duplicate win, so {"type":"typing","type":"send"} was a send.
//
// github.com/go-json-experiment/json (the proposed encoding/json/v2, which
// Go 1.26 still keeps behind GOEXPERIMENT=jsonv2) does all of that by its
// options rather than by checks written here, and refuses invalid UTF-8
// (lone surrogate escapes included) and anything after the value. It is
// faster, and allocates less: go test -bench DecodeObject ./internal/web
// (on a busy 2-core machine) measured a send frame at about 1.9 µs, 4
// allocations, against 3.8–5.3 µs, 14 allocations, with encoding/json's
// Decoder, and a register body at 0.8–1.0 µs, 1 allocation, against
// 4.2–5.7 µs, 11 allocations.
var strictJSON = jsonv2.JoinOptions(
	jsonv2.RejectUnknownMembers(true),
	jsonv2.MatchCaseInsensitiveNames(false),
	jsontext.AllowDuplicateNames(false),
	jsontext.AllowInvalidUTF8(false),
)

// decodeObject decodes data, which must be valid UTF-8 holding exactly one
// JSON object and nothing after it, into v, a pointer to a struct. Keys are
// matched to v's json tags exactly; a key that matches none, or one given
// twice, is refused. Any failure is EINVALID with a message that says what
// is wrong (`duplicate key "body"`, `unknown field "BODY"`, `field "body"
// must be a string`); what names data in it. The API's bodies and the
// WebSocket's frames both come through here.
func decodeObject(data []byte, v any, what string) error {
	if !utf8.Valid(data) {
		return chat.Errorf(chat.EINVALID, "%s must be valid UTF-8", what)
	}
	// A JSON null would decode as an empty object.
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return chat.Errorf(chat.EINVALID, "%s must be a JSON object", what)
	}
	if err := jsonv2.Unmarshal(data, v, strictJSON); err != nil {
		// A syntax error after a complete object is what follows it.
		var syntax *jsontext.SyntacticError
		if errors.As(err, &syntax) && syntax.Err != jsontext.ErrDuplicateName && 0 < syntax.ByteOffset && syntax.ByteOffset < int64(len(data)) &&
			jsontext.Value(data[:syntax.ByteOffset]).IsValid() {
			return chat.Errorf(chat.EINVALID, "%s must hold one JSON object and nothing after it", what)
		}
		return jsonError(err)
	}
	return nil
}

// jsonError turns an error reading or decoding a body into a clear domain
// error: ETOOLARGE for a body over the limit, else EINVALID.
func jsonError(err error) error {
	var (
		maxErr   *http.MaxBytesError
		syntax   *jsontext.SyntacticError
		semantic *jsonv2.SemanticError
	)
	switch {
	case errors.As(err, &maxErr):
		return chat.Errorf(chat.ETOOLARGE, "request body is larger than %d bytes", maxErr.Limit)
	case errors.As(err, &syntax) && syntax.Err == jsontext.ErrDuplicateName:
		return chat.Errorf(chat.EINVALID, "duplicate key %q", syntax.JSONPointer.LastToken())
	case errors.As(err, &semantic) && semantic.Err == jsonv2.ErrUnknownName:
		return chat.Errorf(chat.EINVALID, "unknown field %q", semantic.JSONPointer.LastToken())
	case errors.Is(err, io.ErrUnexpectedEOF):
		return chat.Errorf(chat.EINVALID, "malformed JSON: unexpected end")
	case errors.As(err, &syntax):
		return chat.Errorf(chat.EINVALID, "malformed JSON at byte %d: %s", syntax.ByteOffset, strings.TrimPrefix(syntax.Err.Error(), "jsontext: "))
	case errors.As(err, &semantic) && semantic.JSONPointer != "" && semantic.GoType != nil:
		return chat.Errorf(chat.EINVALID, "field %q must be %s", semantic.JSONPointer.LastToken(), jsonKind(semantic.GoType))
	}
	return chat.Errorf(chat.EINVALID, "malformed JSON")
}

// jsonKind names what JSON value a field of type t takes, for errors.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("an integer of at most %d bits", t.Bits())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return fmt.Sprintf("a non-negative integer of at most %d bits", t.Bits())
	case reflect.Bool:
		return "true or false"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "of type " + t.String()
}

// checkQuery answers 400 invalid, before any handler runs, to a request
// whose query string is malformed or has a NUL or invalid UTF-8 in a
// parameter's name or value (checkQueryString): handlers and stores then see
// only text they can keep (PostgreSQL refuses both in a text value, and
// that error would be a 500). API paths get the JSON error envelope, pages
// pageError's page.
func checkQuery(logger *slog.Logger, pageError func(http.ResponseWriter, *http.Request, error), next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := checkQueryString(r.URL.RawQuery); err != nil {
			if isAPI(r) {
				writeError(w, r, logger, err)
			} else {
				pageError(w, r, err)
			}
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkQueryString returns EINVALID when raw, a URL's query string, does
// not parse (a bad %-escape, a semicolon: what url.ParseQuery refuses and
// URL.Query would silently drop) or, decoded, holds a NUL or invalid UTF-8.
func checkQueryString(raw string) error {
	if raw == "" {
		return nil
	}
	values, err := url.ParseQuery(raw)
	if err != nil {
		return chat.Errorf(chat.EINVALID, "malformed query string")
	}
	for name, vs := range values {
		if !textParam(name) {
			return chat.Errorf(chat.EINVALID, "query parameter names must be valid UTF-8 without NUL")
		}
		for _, v := range vs {
			if !textParam(v) {
				return chat.Errorf(chat.EINVALID, "query parameter %q must be valid UTF-8 without NUL", name)
			}
		}
	}
	return nil
}

// textParam reports whether s is valid UTF-8 without NUL.
func textParam(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// queryInt reads an optional integer query parameter; absent is 0.
func queryInt(r *http.Request, name string) (int64, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, chat.Errorf(chat.EINVALID, "%s must be a non-negative integer", name)
	}
	return n, nil
}

// queryLimit reads the optional limit parameter: absent is 0 (the default
// page size); present, it must be at least 1 (the service checks the top).
func queryLimit(r *http.Request) (int, error) {
	n, err := queryInt(r, "limit")
	if err != nil || (n == 0 && r.URL.Query().Has("limit")) || n > 1<<20 {
		return 0, chat.Errorf(chat.EINVALID, "limit must be between 1 and %d", chat.MaxPage)
	}
	return int(n), nil
}

// pathID reads the {id} path segment.
func pathID(r *http.Request) (int64, error) {
	n, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || n <= 0 {
		return 0, chat.Errorf(chat.EINVALID, "conversation id must be a positive integer")
	}
	return n, nil
}
