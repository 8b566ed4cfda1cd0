package web

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/parleychat/parley/internal/chat"
)

// multipartBody is a multipart/form-data body holding parts, by form name,
// and its Content-Type.
func multipartBody(t testing.TB, parts ...[3]string) ([]byte, string) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, p := range parts { // form name, file name, content
		var w io.Writer
		var err error
		if p[1] != "" {
			w, err = mw.CreateFormFile(p[0], p[1])
		} else {
			w, err = mw.CreateFormField(p[0])
		}
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(w, p[2]) // a bytes.Buffer does not fail
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mw.FormDataContentType()
}

// TestUploadBody: the file is found in a raw body (named by ?name=) and in
// a multipart body's "file" part, other parts before it skipped; a
// multipart body without one, or malformed, is refused as invalid.
func TestUploadBody(t *testing.T) {
	withFile, ct := multipartBody(t, [3]string{"note", "", "skip me"}, [3]string{"file", "a/b/shot.png", "PNGDATA"}, [3]string{"after", "", "x"})
	noFile, noFileCT := multipartBody(t, [3]string{"other", "x.txt", "data"})
	for _, tc := range []struct {
		name, contentType, query, body string
		wantName, wantBody, wantCode   string
	}{
		{"raw", "application/pdf", "?name=report.pdf", "%PDF-1.7", "report.pdf", "%PDF-1.7", ""},
		{"raw without a name", "", "", "bytes", "", "bytes", ""},
		{"multipart", ct, "", string(withFile), "a/b/shot.png", "PNGDATA", ""},
		{"multipart without a file part", noFileCT, "", string(noFile), "", "", chat.EINVALID},
		{"multipart without a boundary", "multipart/form-data", "", "--x\r\n", "", "", chat.EINVALID},
		{"malformed multipart", "multipart/form-data; boundary=zz", "", "garbage", "", "", chat.EINVALID},
	} {
		r := httptest.NewRequest("POST", "/api/v1/conversations/1/attachments"+tc.query, strings.NewReader(tc.body))
		if tc.contentType != "" {
			r.Header.Set("Content-Type", tc.contentType)
		}
		name, body, err := uploadBody(r)
		if tc.wantCode != "" {
			if chat.ErrorCode(err) != tc.wantCode {
				t.Errorf("%s: %v, want %s", tc.name, err, tc.wantCode)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		got, err := io.ReadAll(body)
		if err != nil || name != tc.wantName || string(got) != tc.wantBody {
			t.Errorf("%s: name %q, body %q, %v; want %q, %q", tc.name, name, got, err, tc.wantName, tc.wantBody)
		}
	}
}

// FuzzUploadBody: whatever the Content-Type and body, finding the file
// never panics, refuses only as invalid or too large, and a file found
// reads to its end or fails.
func FuzzUploadBody(f *testing.F) {
	body, ct := multipartBody(f, [3]string{"file", "x.png", "PNG"})
	f.Add(ct, body)
	f.Add("application/octet-stream", []byte("raw bytes"))
	f.Add("multipart/form-data; boundary=zz", []byte("--zz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../x\"\r\n\r\nabc\r\n--zz--\r\n"))
	f.Add("multipart/form-data; boundary=\"", []byte("--"))
	f.Fuzz(func(t *testing.T, contentType string, data []byte) {
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/api/v1/conversations/1/attachments", bytes.NewReader(data))
		r.Header.Set("Content-Type", contentType)
		r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
		_, body, err := uploadBody(r)
		if err != nil {
			if code := chat.ErrorCode(err); code != chat.EINVALID && code != chat.ETOOLARGE {
				t.Fatalf("Content-Type %q: refused with %q (%v), want invalid or too_large", contentType, code, err)
			}
			return
		}
		if n, _ := io.Copy(io.Discard, body); n > int64(len(data)) {
			t.Fatalf("read %d bytes of a %d-byte body", n, len(data))
		}
	})
}

// TestUploadReadError: a body past its cap is too large; one cut short,
// or malformed, is the request's fault (invalid), never the server's.
func TestUploadReadError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code string
	}{
		{&http.MaxBytesError{Limit: 10}, chat.ETOOLARGE},
		{io.ErrUnexpectedEOF, chat.EINVALID},
		{fmt.Errorf("multipart: NextPart: %w", io.ErrUnexpectedEOF), chat.EINVALID},
		{errors.New("connection reset by peer"), chat.EINVALID},
	} {
		if got := chat.ErrorCode(uploadReadError(tc.err)); got != tc.code {
			t.Errorf("uploadReadError(%v) = %s, want %s", tc.err, got, tc.code)
		}
	}
	r := &readErrors{r: io.MultiReader(strings.NewReader("abc"), iotest.ErrReader(io.ErrUnexpectedEOF))}
	if _, err := io.ReadAll(r); !errors.Is(err, io.ErrUnexpectedEOF) || !errors.Is(r.err, io.ErrUnexpectedEOF) {
		t.Errorf("readErrors kept %v (read %v), want the reader's error", r.err, err)
	}
}
