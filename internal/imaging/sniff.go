package imaging

import (
	"mime"
	"net/http"
	"strings"
)

// sniffLen is how many leading bytes Sniff considers (the limit of the
// WHATWG MIME Sniffing algorithm that http.DetectContentType implements).
const sniffLen = 512

// Sniff returns the media type of a file from its first bytes (at most 512
// are looked at; fewer are fine): the answer of http.DetectContentType,
// which follows the WHATWG MIME Sniffing Standard, with every parameter
// dropped except charset on text/* types. It never fails: unknown bytes are
// "application/octet-stream". An SVG file sniffs as text/xml or text/plain,
// never as an image.
func Sniff(head []byte) string {
	if len(head) > sniffLen {
		head = head[:sniffLen]
	}
	detected := http.DetectContentType(head)
	mediaType, params, err := mime.ParseMediaType(detected)
	if err != nil {
		return "application/octet-stream"
	}
	if strings.HasPrefix(mediaType, "text/") {
		if cs, ok := params["charset"]; ok {
			return mime.FormatMediaType(mediaType, map[string]string{"charset": cs})
		}
	}
	return mediaType
}

// Inline reports whether contentType (as Sniff returns it) is a raster image
// that a browser may show inline: image/png, image/jpeg, image/gif or
// image/webp. Everything else, SVG included (it can carry script), is
// served as a download.
func Inline(contentType string) bool {
	switch contentType {
	case typePNG, typeJPEG, typeGIF, typeWebP:
		return true
	}
	return false
}

// The media types of the inline image formats.
const (
	typePNG  = "image/png"
	typeJPEG = "image/jpeg"
	typeGIF  = "image/gif"
	typeWebP = "image/webp"
)
