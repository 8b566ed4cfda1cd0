package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

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

// writeError answers with the JSON error envelope. Internal errors are
// logged and shown only as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, logger *slog.Logger, err error) {
	code := chat.ErrorCode(err)
	if code == chat.EINTERNAL {
		logger.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	setRetryAfter(w, err)
	writeJSON(w, r, logger, statusOf(code), wire.Error{Error: wire.ErrorBody{Code: code, Message: chat.ErrorMessage(err)}})
}

// setRetryAfter tells a rate-limited client, in whole seconds, when to try
// again.
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
// at most maxBody bytes, no unknown fields, nothing after it.
func decodeJSON[T any](w http.ResponseWriter, r *http.Request) (T, error) {
	var v T
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return v, jsonError(err)
	}
	return v, decodeObject(body, &v, "request body")
}

// decodeObject decodes data, which must be valid UTF-8 holding exactly one
// JSON object with no unknown fields, into v. what names data in errors.
// The API's bodies and the WebSocket's frames both come through here.
func decodeObject(data []byte, v any, what string) error {
	// encoding/json would quietly turn invalid UTF-8 into U+FFFD.
	if !utf8.Valid(data) {
		return chat.Errorf(chat.EINVALID, "%s must be valid UTF-8", what)
	}
	// A JSON null would decode as an empty object.
	if trimmed := bytes.TrimLeft(data, " \t\r\n"); len(trimmed) > 0 && trimmed[0] != '{' {
		return chat.Errorf(chat.EINVALID, "%s must be a JSON object", what)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return chat.Errorf(chat.EINVALID, "%s must hold one JSON object and nothing after it", what)
	}
	return nil
}

// jsonError turns a decoding error into a clear domain error.
func jsonError(err error) error {
	var (
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
		maxErr  *http.MaxBytesError
	)
	switch {
	case errors.As(err, &maxErr):
		return chat.Errorf(chat.ETOOLARGE, "request body is larger than %d bytes", maxErr.Limit)
	case errors.As(err, &syntax):
		return chat.Errorf(chat.EINVALID, "malformed JSON at byte %d", syntax.Offset)
	case errors.As(err, &typeErr):
		return chat.Errorf(chat.EINVALID, "field %q must be of type %s", typeErr.Field, typeErr.Type)
	case errors.Is(err, io.EOF):
		return chat.Errorf(chat.EINVALID, "request body must be a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return chat.Errorf(chat.EINVALID, "malformed JSON: unexpected end")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return chat.Errorf(chat.EINVALID, "%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return chat.Errorf(chat.EINVALID, "malformed JSON")
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
