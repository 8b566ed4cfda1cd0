package web

import (
	"bytes"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/wire"
)

// TestFileWords: sizes, kinds, thumbnail sizes and previews of files, as
// format.js says them too.
func TestFileWords(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 bytes"}, {1, "1 byte"}, {1023, "1023 bytes"}, {1024, "1.0 KB"}, {2_516_582, "2.4 MB"},
		{10188, "9.9 KB"}, {10189, "10 KB"}, {10240, "10 KB"}, {25 << 20, "25 MB"}, {3 << 30, "3.0 GB"},
	} {
		if got := fileSize(tc.n); got != tc.want {
			t.Errorf("fileSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	for ct, want := range map[string]string{
		"application/pdf": "PDF", "text/plain; charset=utf-8": "text", "image/png": "PNG image",
		"video/mp4": "MP4 video", "application/x-something": "application/x-something", "": "file",
	} {
		if got := fileKind(ct); got != want {
			t.Errorf("fileKind(%q) = %q, want %q", ct, got, want)
		}
	}
	for _, tc := range []struct{ w, h, tw, th int }{
		{600, 300, 400, 200}, {300, 500, 240, 400}, {40, 30, 40, 30}, {400, 400, 400, 400}, {10000, 1, 400, 1}, {401, 3, 400, 3},
	} {
		if tw, th := thumbSize(tc.w, tc.h); tw != tc.tw || th != tc.th {
			t.Errorf("thumbSize(%d, %d) = %d×%d, want %d×%d", tc.w, tc.h, tw, th, tc.tw, tc.th)
		}
	}
	one := []wire.Attachment{{Name: "photo.png"}}
	two := []wire.Attachment{{Name: "a"}, {Name: "b"}}
	for _, tc := range []struct {
		m    wire.Message
		kind string
		want string
	}{
		{wire.Message{Attachments: one}, wire.KindDirect, "📎 photo.png"},
		{wire.Message{Attachments: two, SenderID: 2}, wire.KindGroup, "Ada: 📎 2 files"},
		{wire.Message{Body: "look", Attachments: two, SenderID: 1}, wire.KindGroup, "You: look"},
		{wire.Message{Deleted: true}, wire.KindDirect, deletedText},
	} {
		m := tc.m
		m.Kind = wire.MessageText
		c := withFilesPreview(wire.ConversationRow{Kind: tc.kind, LastMessage: &m})
		if got := previewText(1, c, names{2: {ID: 2, DisplayName: "Ada"}}); got != tc.want {
			t.Errorf("preview of %+v = %q, want %q", tc.m, got, tc.want)
		}
		if m.Body != tc.m.Body {
			t.Errorf("withFilesPreview changed the message it was given: %q", m.Body)
		}
	}
}

// TestAttachmentRows: the server's rows show a message's files as the
// script draws them: an image as its thumbnail, sized, in a link to the
// full size; another file as a card with a download link; a tombstone
// none.
func TestAttachmentRows(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	files := []wire.Attachment{
		{ID: 1, Name: "photo.png", ContentType: "image/png", Size: 2_516_582, Width: 600, Height: 300, URL: "/api/v1/conversations/1/attachments/1", ThumbnailURL: "/api/v1/conversations/1/attachments/1/thumbnail"},
		{ID: 2, Name: `<b>report</b>.pdf`, ContentType: "application/pdf", Size: 1234, URL: "/api/v1/conversations/1/attachments/2"},
	}
	st := &openState{Conversation: wire.ConversationRow{ID: 1, Kind: wire.KindDirect, LastSeq: 2, LastReadSeq: 2}, Messages: []wire.Message{
		{ConversationID: 1, Seq: 1, Kind: wire.MessageText, SenderID: 2, Attachments: files},
		{ConversationID: 1, Seq: 2, Kind: wire.MessageText, SenderID: 2, Deleted: true},
	}}
	v := openConversation(1, st, names{})
	var buf bytes.Buffer
	for _, item := range v.Items {
		if item.Seq == 0 {
			continue
		}
		if err := p.sets["app"].ExecuteTemplate(&buf, "message-row", item); err != nil {
			t.Fatal(err)
		}
	}
	html := buf.String()
	for _, want := range []string{
		`<p class="body" dir="auto"></p><ul class="attachments"><li class="attachment image"><a href="/api/v1/conversations/1/attachments/1" target="_blank" rel="noopener"><img src="/api/v1/conversations/1/attachments/1/thumbnail" alt="photo.png" width="400" height="200"></a></li>`,
		`<li class="attachment file"><span class="file-icon" aria-hidden="true">📄</span><a class="file-name" href="/api/v1/conversations/1/attachments/2" download="&lt;b&gt;report&lt;/b&gt;.pdf" dir="auto">&lt;b&gt;report&lt;/b&gt;.pdf</a><span class="file-meta">1.2 KB · PDF</span></li></ul>`,
	} {
		if !strings.Contains(html, want) {
			t.Errorf("the rows lack\n\t%s\nin\n\t%s", want, html)
		}
	}
	if n := strings.Count(html, `class="attachments"`); n != 1 {
		t.Errorf("%d lists of files, want 1 (none on the tombstone):\n%s", n, html)
	}
}
