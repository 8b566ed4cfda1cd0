package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

// upload sends data as a raw upload named name to conversation conv and
// returns the answer's status and body.
func (c *client) upload(conv int64, name string, data []byte) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/conversations/%d/attachments?name=%s", c.base, conv, url.QueryEscape(name)), bytes.NewReader(data))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("upload %s: %v", name, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp.StatusCode, out
}

// attach uploads data and returns the pending attachment.
func (c *client) attach(conv int64, name string, data []byte) wire.Attachment {
	c.t.Helper()
	status, raw := c.upload(conv, name, data)
	var resp wire.AttachmentResponse
	if status != http.StatusCreated || json.Unmarshal(raw, &resp) != nil {
		c.t.Fatalf("upload %s: %d %s, want 201 {attachment}", name, status, raw)
	}
	return resp.Attachment
}

// sendFiles sends a message carrying attachments.
func (c *client) sendFiles(conv int64, body, clientID string, files ...wire.Attachment) wire.Message {
	c.t.Helper()
	ids := make([]int64, len(files))
	for i, f := range files {
		ids[i] = f.ID
	}
	var resp wire.MessageResponse
	c.call("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", conv), wire.SendRequest{Body: body, ClientID: clientID, AttachmentIDs: ids}, http.StatusCreated, &resp)
	return resp.Message
}

// download fetches a URL of the server with the client's session and
// returns the answer.
func (c *client) download(path string, header ...string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return resp, data
}

// pngChunk is one PNG chunk: length, type, data, CRC (PNG spec §5.3).
func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	crc := crc32.NewIEEE()
	crc.Write([]byte(typ))
	crc.Write(data)
	_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	return b.Bytes()
}

// photoPNG is a w×h PNG whose tEXt chunk tells where it was taken, as a
// phone's camera would.
func photoPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	raw := buf.Bytes()
	// After the signature (8 bytes) and IHDR (25 bytes).
	text := pngChunk("tEXt", []byte("GPSPosition\x0048.8584 N, 2.2945 E"))
	return bytes.Join([][]byte{raw[:33], text, raw[33:]}, nil)
}

// bombPNG is a tiny PNG whose header claims 100,000 × 100,000 pixels: 40
// GB decoded.
func bombPNG() []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 100000)
	binary.BigEndian.PutUint32(ihdr[4:], 100000)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	return bytes.Join([][]byte{[]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr), pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01}), pngChunk("IEND", nil)}, nil)
}

// corruptPNG is a PNG whose header is whole and whose pixel data is not.
func corruptPNG() []byte {
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 10)
	binary.BigEndian.PutUint32(ihdr[4:], 10)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	return bytes.Join([][]byte{[]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", ihdr), pngChunk("IDAT", []byte("these bytes are no zlib stream")), pngChunk("IEND", nil)}, nil)
}

// blobFiles returns the files of the server's attachment store (next to
// its database).
func blobFiles(t *testing.T, s *server) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(defaultAttachmentsDir(s.db), func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}

// TestAttachmentsExchange: alice sends bob a photo and a PDF in one
// message. Bob's tab gets it with both files; he downloads the photo,
// inline and without where it was taken, its thumbnail, and the PDF as a
// download, ranges included; history and the catch-up carry the files.
func TestAttachmentsExchange(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	tb := bob.openTab("bob")

	photo := photoPNG(t, 800, 600)
	pdf := []byte("%PDF-1.7\n" + strings.Repeat("stream of a report\n", 400))
	img := alice.attach(conv, "IMG_0042.png", photo)
	doc := alice.attach(conv, "Q3 report.pdf", pdf)
	if img.ContentType != "image/png" || img.Width != 800 || img.Height != 600 || img.ThumbnailURL == "" || img.Name != "IMG_0042.png" {
		t.Errorf("photo uploaded as %+v", img)
	}
	if doc.ContentType != "application/pdf" || doc.Size != int64(len(pdf)) || doc.Width != 0 || doc.ThumbnailURL != "" || doc.Name != "Q3 report.pdf" {
		t.Errorf("PDF uploaded as %+v", doc)
	}
	// Pending: only alice sees it.
	if resp, _ := bob.download(img.URL); resp.StatusCode != http.StatusNotFound {
		t.Errorf("bob fetching alice's unsent photo: %d, want 404", resp.StatusCode)
	}

	sent := alice.sendFiles(conv, "", "with-files", img, doc)
	if len(sent.Attachments) != 2 || sent.Attachments[0].ID != img.ID || sent.Attachments[1].ID != doc.ID || sent.Body != "" {
		t.Fatalf("sent %+v, want the photo then the PDF and no text", sent)
	}
	got := tb.message(tb.expectPast("message"))
	if len(got.Attachments) != 2 || got.Attachments[0].URL != img.URL || got.Attachments[1].Name != "Q3 report.pdf" {
		t.Fatalf("bob's tab got %+v", got)
	}

	resp, data := bob.download(img.URL)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "image/png" ||
		!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline") || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "sandbox") {
		t.Errorf("photo: %d %v", resp.StatusCode, resp.Header)
	}
	if bytes.Contains(data, []byte("GPSPosition")) || bytes.Contains(data, []byte("48.8584")) {
		t.Error("the photo bob downloads still says where it was taken")
	}
	if decoded, err := png.Decode(bytes.NewReader(data)); err != nil || decoded.Bounds().Dx() != 800 {
		t.Errorf("the photo bob downloads does not decode as the 800-pixel image: %v", err)
	}
	resp, thumb := bob.download(img.ThumbnailURL)
	if cfg, _, err := image.DecodeConfig(bytes.NewReader(thumb)); resp.StatusCode != http.StatusOK || err != nil || cfg.Width > 400 || cfg.Height > 400 || cfg.Width == 0 {
		t.Errorf("thumbnail: %d, %v, %+v; want an image within 400 pixels", resp.StatusCode, err, cfg)
	}

	resp, data = bob.download(doc.URL)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(data, pdf) || resp.Header.Get("Content-Type") != "application/octet-stream" ||
		resp.Header.Get("Content-Disposition") != `attachment; filename="Q3 report.pdf"` {
		t.Errorf("PDF: %d, %d bytes, %v", resp.StatusCode, len(data), resp.Header)
	}
	resp, data = bob.download(doc.URL, "Range", "bytes=9-26")
	if resp.StatusCode != http.StatusPartialContent || string(data) != "stream of a report" {
		t.Errorf("PDF range: %d %q, want 206 and the bytes asked for", resp.StatusCode, data)
	}
	resp, _ = bob.download(doc.URL, "If-None-Match", resp.Header.Get("ETag"))
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("PDF with its ETag: %d, want 304", resp.StatusCode)
	}

	history := bob.messages(conv, "limit=10").Messages
	if last := history[len(history)-1]; len(last.Attachments) != 2 || last.Attachments[0].ThumbnailURL != img.ThumbnailURL {
		t.Errorf("history's last message %+v, want it with both files", last)
	}
	changes := bob.messages(conv, "after_version=0").Messages
	if last := changes[len(changes)-1]; len(last.Attachments) != 2 {
		t.Errorf("catch-up's last message %+v, want it with both files", last)
	}
}

// TestAttachmentRefusals: every bad upload is refused with a clear error
// and stores nothing; a dangerous file is stored only as a download under
// a safe name; a send cannot carry an upload that is not the sender's to
// send.
func TestAttachmentRefusals(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_MAX_UPLOAD": "64KiB"})
	alice, bob, mallory := register(t, s, "alice"), register(t, s, "bob"), register(t, s, "mallory")
	conv, _ := alice.startConversation(bob)
	other, _ := alice.startConversation(mallory)

	for _, tc := range []struct {
		name    string
		who     *client
		conv    int64
		file    string
		data    []byte
		status  int
		code    string
		message string
	}{
		{"one byte past the limit", alice, conv, "big.bin", bytes.Repeat([]byte("x"), 64<<10+1), 413, "too_large", "64 KiB"},
		{"a decompression bomb", alice, conv, "bomb.png", bombPNG(), 413, "too_large", "pixels"},
		{"a broken image", alice, conv, "broken.png", []byte("\x89PNG\r\n\x1a\nthis is not a PNG at all"), 400, "invalid", "PNG"},
		{"an image whose pixels do not decode", alice, conv, "corrupt.png", corruptPNG(), 400, "invalid", "PNG"},
		{"a non-member", mallory, conv, "x.txt", []byte("hello"), 404, "not_found", "conversation"},
		{"a path for a name", alice, conv, "../../etc/passwd", []byte("root:x:0:0"), 400, "invalid", "not a path"},
		{"a name with control characters", alice, conv, "bill\r\n.pdf", []byte("%PDF-1.4"), 400, "invalid", "control characters"},
		{"a name with NUL", alice, conv, "a\x00.txt", []byte("hello"), 400, "invalid", "NUL"},
	} {
		before := len(blobFiles(t, s))
		status, raw := tc.who.upload(tc.conv, tc.file, tc.data)
		var e wire.Error
		_ = json.Unmarshal(raw, &e)
		if status != tc.status || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.message) {
			t.Errorf("%s: %d %s, want %d %s saying %q", tc.name, status, raw, tc.status, tc.code, tc.message)
		}
		if after := len(blobFiles(t, s)); after != before {
			t.Errorf("%s: %d files stored before, %d after", tc.name, before, after)
		}
	}

	// An SVG with a script is a file like any other: stored, but never
	// shown, only downloaded; a name that reads backwards is made plain.
	svg := alice.attach(conv, "logo.svg", []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>`))
	ctl := alice.attach(conv, "bill\u202egpj.exe", []byte("MZ not really a program"))
	if svg.Name != "logo.svg" || svg.Width != 0 || svg.ThumbnailURL != "" || ctl.Name != "billgpj.exe" {
		t.Errorf("uploaded %+v and %+v: want safe names, and the SVG not an image", svg, ctl)
	}
	alice.sendFiles(conv, "look", "svg", svg, ctl)
	for _, a := range []wire.Attachment{svg, ctl} {
		resp, _ := bob.download(a.URL)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/octet-stream" ||
			!strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment;") || resp.Header.Get("X-Content-Type-Options") != "nosniff" ||
			resp.Header.Get("Content-Security-Policy") != "default-src 'none'; sandbox" {
			t.Errorf("%s served as %d %v: want a sandboxed download", a.Name, resp.StatusCode, resp.Header)
		}
	}

	mine := alice.attach(conv, "mine.txt", []byte("alice's"))
	elsewhere := alice.attach(other, "other.txt", []byte("for mallory"))
	for _, tc := range []struct {
		name string
		who  *client
		conv int64
		ids  []int64
		code string
	}{
		{"someone else's upload", bob, conv, []int64{mine.ID}, "invalid"},
		{"another conversation's upload", alice, conv, []int64{elsewhere.ID}, "invalid"},
		{"an upload sent already", alice, conv, []int64{svg.ID}, "invalid"},
		{"no such upload", alice, conv, []int64{987654}, "invalid"},
		{"the same upload twice", alice, conv, []int64{mine.ID, mine.ID}, "invalid"},
		{"a non-member", mallory, conv, []int64{mine.ID}, "not_found"},
	} {
		status := http.StatusBadRequest
		if tc.code == "not_found" {
			status = http.StatusNotFound
		}
		tc.who.wantError("POST", fmt.Sprintf("/api/v1/conversations/%d/messages", tc.conv), wire.SendRequest{Body: "files", AttachmentIDs: tc.ids}, status, tc.code)
	}
	// The refusals left alice's upload hers to send.
	if m := alice.sendFiles(conv, "", "", mine); len(m.Attachments) != 1 || m.Attachments[0].ID != mine.ID {
		t.Errorf("sending mine after the refusals: %+v", m)
	}
}

// TestAttachmentsGoWithTheirMessage: deleting a message makes its files
// 404 at once and removes their bytes from storage.
func TestAttachmentsGoWithTheirMessage(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	img := alice.attach(conv, "a.png", photoPNG(t, 40, 30))
	m := alice.sendFiles(conv, "", "", img)
	if n := len(blobFiles(t, s)); n != 2 {
		t.Fatalf("%d files stored for a photo, want 2 (the photo and its thumbnail)", n)
	}
	alice.call("DELETE", fmt.Sprintf("/api/v1/conversations/%d/messages/%d", conv, m.Seq), nil, http.StatusNoContent, nil)
	for _, u := range []string{img.URL, img.ThumbnailURL} {
		if resp, _ := bob.download(u); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s after the deletion: %d, want 404", u, resp.StatusCode)
		}
	}
	waitUntil(t, "the deleted message's files gone from storage", func() bool { return len(blobFiles(t, s)) == 0 })
}

// TestAttachmentsMultipart: a multipart/form-data upload, as an HTML form
// sends it, stores the "file" part under its file name.
func TestAttachmentsMultipart(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	var body bytes.Buffer
	fmt.Fprintf(&body, "--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n"+
		"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\nContent-Type: image/png\r\n\r\nplain words\r\n--b--\r\n")
	status, raw := alice.do("POST", fmt.Sprintf("/api/v1/conversations/%d/attachments", conv), body.String(), "Content-Type", "multipart/form-data; boundary=b")
	var resp wire.AttachmentResponse
	if status != http.StatusCreated || json.Unmarshal(raw, &resp) != nil || resp.Attachment.Name != "notes.txt" ||
		!strings.HasPrefix(resp.Attachment.ContentType, "text/plain") || resp.Attachment.Size != int64(len("plain words")) {
		t.Errorf("multipart upload: %d %s; want notes.txt, sniffed as text whatever the part said", status, raw)
	}

	// A body that ends before the file does (the client cancelled, or
	// never closed the multipart body) is the request's fault: 400, not
	// a 500 logged as the server's error, and nothing stored.
	before := len(blobFiles(t, s))
	cut := "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"t.txt\"\r\n\r\nhello"
	status, raw = alice.do("POST", fmt.Sprintf("/api/v1/conversations/%d/attachments", conv), cut, "Content-Type", "multipart/form-data; boundary=b")
	if status != http.StatusBadRequest || !strings.Contains(string(raw), `"invalid"`) {
		t.Errorf("a multipart body cut off in its file: %d %s, want 400 invalid", status, raw)
	}
	if after := len(blobFiles(t, s)); after != before {
		t.Errorf("a cut-off upload left %d files", after-before)
	}
	if strings.Contains(s.logs.String(), `"level":"ERROR"`) {
		t.Errorf("a cut-off upload was logged as the server's error:\n%s", s.logs)
	}
}

// TestAttachmentsTwoNodes: on two nodes over one PostgreSQL database (the
// blob store there too), alice uploads on one node and sends over its
// WebSocket; bob, on the other, gets the message with the files and
// downloads them from his node; deleting the message there ends them on
// both.
func TestAttachmentsTwoNodes(t *testing.T) {
	t.Parallel()
	nodes := startCluster(t, 2, nil, nil)
	alice := register(t, nodes[0], "alice")
	bob := register(t, nodes[1], "bob")
	conv, _ := alice.startConversation(bob)
	b := bob.on(nodes[1]).openTab("bob on node 2")
	a := alice.openTab("alice on node 1")

	photo := photoPNG(t, 300, 200)
	pdf := []byte("%PDF-1.4\n" + strings.Repeat("minutes of the meeting\n", 2000))
	img := alice.attach(conv, "screenshot.png", photo)
	doc := alice.attach(conv, "minutes.pdf", pdf)
	a.send(map[string]any{"type": "send", "conversation_id": conv, "client_id": "files-1", "attachment_ids": []int64{img.ID, doc.ID}})
	sent := a.message(a.expectPast("ack"))
	got := b.message(b.expectPast("message"))
	if !reflect.DeepEqual(got, sent) || len(got.Attachments) != 2 {
		t.Fatalf("bob on node 2 got %+v, want %+v with both files", got, sent)
	}
	if resp, data := bob.on(nodes[1]).download(doc.URL); resp.StatusCode != http.StatusOK || !bytes.Equal(data, pdf) {
		t.Errorf("the PDF from node 2: %d, %d bytes; want the %d bytes alice uploaded on node 1", resp.StatusCode, len(data), len(pdf))
	}
	if resp, data := bob.on(nodes[1]).download(img.ThumbnailURL); resp.StatusCode != http.StatusOK || len(data) == 0 {
		t.Errorf("the thumbnail from node 2: %d, %d bytes", resp.StatusCode, len(data))
	}
	alice.call("DELETE", fmt.Sprintf("/api/v1/conversations/%d/messages/%d", conv, sent.Seq), nil, http.StatusNoContent, nil)
	for _, n := range nodes {
		if resp, _ := bob.on(n).download(img.URL); resp.StatusCode != http.StatusNotFound {
			t.Errorf("the deleted message's photo from %s: %d, want 404", n.URL, resp.StatusCode)
		}
	}
}

// TestAttachmentUploadBudget: a person's bytes a day are counted
// (-upload-budget): past them an upload is 429 with Retry-After and its
// file is not kept; a budget below the largest file is refused at start.
func TestAttachmentUploadBudget(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_MAX_UPLOAD": "1MiB", "PARLEY_UPLOAD_BUDGET": "2MiB"})
	alice, bob := register(t, s, "alice"), register(t, s, "bob")
	conv, _ := alice.startConversation(bob)
	alice.attach(conv, "one.bin", bytes.Repeat([]byte("1"), 1<<20))
	alice.attach(conv, "two.bin", bytes.Repeat([]byte("2"), 1<<20))
	before := len(blobFiles(t, s))
	req, err := http.NewRequest("POST", fmt.Sprintf("%s/api/v1/conversations/%d/attachments?name=three.bin", s.URL, conv), strings.NewReader("three"))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := alice.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "bytes uploaded") {
		t.Errorf("a third upload past 2 MiB a day: %d (Retry-After %q) %s; want 429 naming the bytes", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	if after := len(blobFiles(t, s)); after != before {
		t.Errorf("the refused upload left %d files", after-before)
	}
	// Bob's budget is his own.
	bob.attach(conv, "bobs.bin", []byte("bob's"))

	var stdout, stderr bytes.Buffer
	err = run(t.Context(), []string{"parley", "-max-upload", "10MiB", "-upload-budget", "5MiB"}, func(string) string { return "" }, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "-upload-budget must be at least 10MiB") {
		t.Errorf("a budget below the largest file: %v, want it refused", err)
	}
}
