package imaging

import (
	"io"

	"github.com/parleychat/parley/internal/chat"
)

var _ chat.Images = Images{}

// Images is chat.Images with these limits: the package's functions, for
// the service.
type Images struct {
	Limits Limits
}

// Sniff is the package's Sniff.
func (Images) Sniff(head []byte) string { return Sniff(head) }

// Inline is the package's Inline.
func (Images) Inline(contentType string) bool { return Inline(contentType) }

// StripMetadata is the package's StripMetadata.
func (Images) StripMetadata(r io.Reader, contentType string) io.Reader {
	return StripMetadata(r, contentType)
}

// Inspect is the package's Inspect within i.Limits.
func (i Images) Inspect(r io.Reader, contentType string) (width, height int, err error) {
	return Inspect(r, contentType, i.Limits)
}

// Thumbnail is the package's Thumbnail within i.Limits.
func (i Images) Thumbnail(r io.Reader, contentType string) (data []byte, thumbType string, width, height int, err error) {
	return Thumbnail(r, contentType, i.Limits)
}
