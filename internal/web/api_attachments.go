package web

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/wire"
)

// Uploads and downloads may take longer than the server's 30 s read and
// write timeouts on a slow link: each gets this long instead.
const transferTimeout = 15 * time.Minute

// multipartOverhead is what a multipart body may carry beside the file:
// boundaries and part headers.
const multipartOverhead = 64 << 10

// attachmentPolicy is the Content-Security-Policy of every downloaded
// file: nothing in it runs or loads anything, even if a browser took it
// for a page (sandbox: a unique origin, no scripts, no forms).
const attachmentPolicy = "default-src 'none'; sandbox"

// errNoFile refuses an upload with nothing to store.
func errNoFile() error {
	return chat.Errorf(chat.EINVALID, `send the file as the body (its name in ?name=), or as multipart/form-data with a part named "file"`)
}

// uploadBody finds the file in an upload request: a multipart/form-data
// body's first part named "file" (with its filename), or the raw body
// (with its name from the query's name). It reads nothing past the file's
// part headers: the file is streamed from the returned reader.
func uploadBody(r *http.Request) (name string, body io.Reader, err error) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mediaType != "multipart/form-data" {
		return r.URL.Query().Get("name"), r.Body, nil
	}
	if params["boundary"] == "" {
		return "", nil, chat.Errorf(chat.EINVALID, "multipart body without a boundary")
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return "", nil, errNoFile()
		}
		if err != nil {
			return "", nil, uploadReadError(err)
		}
		if part.FormName() == "file" {
			// The filename as sent, not part.FileName's last element:
			// a path is refused (chat.CheckFileName), not cut.
			_, params, _ := mime.ParseMediaType(part.Header.Get("Content-Disposition")) // FormName parsed it already
			return params["filename"], part, nil
		}
	}
}

// uploadReadError tells a body past its cap (ETOOLARGE) from one that
// is malformed or ended before the file did (EINVALID).
func uploadReadError(err error) error {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return chat.Errorf(chat.ETOOLARGE, "the request is too large")
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return chat.Errorf(chat.EINVALID, "the upload ended before the whole file arrived")
	}
	return chat.Errorf(chat.EINVALID, "the upload could not be read: %v", err)
}

// readErrors is a reader that remembers the first error of its reader but
// io.EOF: what went wrong with the request, beside what the server did.
type readErrors struct {
	r   io.Reader
	err error
}

func (e *readErrors) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && e.err == nil {
		e.err = err
	}
	return n, err
}

// handleUpload answers POST /api/v1/conversations/{id}/attachments: the
// file (raw body with ?name=, or multipart/form-data with a part named
// "file") is stored pending for the caller to send, 201 {attachment}.
// Refusals are chat.Service.Upload's: not_found for a non-member,
// too_large past the size limit, invalid for an image it cannot read,
// rate_limited past the upload budget.
func (s *server) handleUpload() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(transferTimeout)) // unsupported only by test recorders, which need none
		r.Body = http.MaxBytesReader(w, r.Body, s.maxUpload+multipartOverhead)
		name, body, err := uploadBody(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		read := &readErrors{r: body}
		a, err := s.service.Upload(r.Context(), callerID(r), chat.Upload{ConversationID: chat.ConversationID(id), Name: name, Body: read})
		if err != nil && read.err != nil {
			// The request's own fault, not the server's: a body past its
			// cap, or one that ended before the file did (a client that
			// cancelled, a multipart body without its closing boundary).
			err = uploadReadError(read.err)
		}
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		writeJSON(w, r, s.logger, http.StatusCreated, wire.AttachmentResponse{Attachment: wireAttachment(a)})
	})
}

// handleDownload answers GET /api/v1/conversations/{id}/attachments/{attachment_id}
// and, with thumbnail, …/thumbnail: the bytes, to members only (404
// otherwise, as for the conversation). Range requests and If-None-Match
// (the ETag is the bytes' SHA-256) are answered by http.ServeContent. A
// raster image is served inline under its sniffed type; anything else
// (SVG and HTML included) as application/octet-stream to download
// (Content-Disposition: attachment, RFC 6266). Every answer is nosniff and
// under a sandboxing Content-Security-Policy.
func (s *server) handleDownload(thumbnail bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conv, err := pathID(r)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		id, err := pathNumber(r, "attachment_id", "attachment")
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		a, blob, err := s.service.OpenAttachment(r.Context(), callerID(r), chat.ConversationID(conv), chat.AttachmentID(id), thumbnail)
		if err != nil {
			writeError(w, r, s.logger, err)
			return
		}
		defer func() { _ = blob.Close() }()                                                 // read-only
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(transferTimeout)) // as for uploads

		h := w.Header()
		h.Set("Content-Security-Policy", attachmentPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		// Private, and asked again each time (a 304 while the ETag
		// holds): who may see it is decided per member, and a deleted
		// message's file must not stay on screen from a cache.
		h.Set("Cache-Control", "private, no-cache")
		h.Set("ETag", `"`+blob.Info().SHA256+`"`)
		disposition, contentType := "attachment", "application/octet-stream"
		switch {
		case thumbnail:
			disposition, contentType = "inline", a.ThumbnailType
		case a.Inline():
			disposition, contentType = "inline", a.ContentType
		}
		h.Set("Content-Type", contentType)
		if thumbnail {
			h.Set("Content-Disposition", disposition) // not the file's name: other bytes
		} else {
			h.Set("Content-Disposition", contentDisposition(disposition, a.Name))
		}
		http.ServeContent(w, r, "", a.CreatedAt, blob)
	})
}

// contentDisposition is the Content-Disposition header of a file named
// name (made safe by chat.CleanFileName): the name as an RFC 2231
// extended parameter when it is not plain ASCII (RFC 6266 §4.3), which
// mime.FormatMediaType writes.
func contentDisposition(disposition, name string) string {
	if v := mime.FormatMediaType(disposition, map[string]string{"filename": name}); v != "" {
		return v
	}
	// FormatMediaType refuses no name CleanFileName lets through; should
	// it, the file still downloads, under a plain name.
	return disposition + `; filename="file"`
}
