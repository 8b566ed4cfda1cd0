package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"strings"
	"testing"
	"testing/iotest"

	"golang.org/x/image/webp"

	"github.com/parleychat/parley/internal/chat"
)

func TestSniffAndInline(t *testing.T) {
	small := testImage(8, 8, false)
	tests := []struct {
		name   string
		head   []byte
		want   string
		inline bool
	}{
		{"png", encodePNG(t, small), "image/png", true},
		{"jpeg", encodeJPEG(t, small), "image/jpeg", true},
		{"gif", encodeGIF(t, 8, 8), "image/gif", true},
		{"webp", webpWithMetadata(4, 4), "image/webp", true},
		{"pdf", []byte("%PDF-1.7\n1 0 obj\n"), "application/pdf", false},
		{"html", []byte("<!DOCTYPE html><html><script>alert(1)</script>"), "text/html; charset=utf-8", false},
		{"plain text", []byte("hello, world\n"), "text/plain; charset=utf-8", false},
		{"binary", []byte{0, 1, 2, 3, 0xFE, 0xFF}, "application/octet-stream", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sniff(tt.head)
			if got != tt.want {
				t.Errorf("Sniff = %q, want %q", got, tt.want)
			}
			if Inline(got) != tt.inline {
				t.Errorf("Inline(%q) = %v, want %v", got, !tt.inline, tt.inline)
			}
		})
	}
	t.Run("svg", func(t *testing.T) {
		for _, svg := range []string{
			`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`,
			`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`,
		} {
			got := Sniff([]byte(svg))
			if !strings.HasPrefix(got, "text/") || Inline(got) {
				t.Errorf("Sniff(%q) = %q (inline %v), want a text type, not inline", svg, got, Inline(got))
			}
		}
		if Inline("image/svg+xml") {
			t.Error("Inline(image/svg+xml) = true")
		}
	})
	t.Run("only the first 512 bytes count", func(t *testing.T) {
		head := append([]byte("hello "), bytes.Repeat([]byte{'a'}, 600)...)
		head[700-100] = 0 // a binary byte past 512 changes nothing
		if got := Sniff(head); got != "text/plain; charset=utf-8" {
			t.Errorf("Sniff = %q", got)
		}
	})
}

// strip runs StripMetadata over b and fails the test on an error.
func strip(t *testing.T, b []byte, contentType string) []byte {
	t.Helper()
	out, err := io.ReadAll(StripMetadata(bytes.NewReader(b), contentType))
	if err != nil {
		t.Fatalf("StripMetadata: %v", err)
	}
	if len(out) > len(b) {
		t.Fatalf("output %d bytes, longer than input %d", len(out), len(b))
	}
	// The same through a reader that gives one byte at a time, and the
	// output reader behaves for every read size.
	one, err := io.ReadAll(StripMetadata(iotest.OneByteReader(bytes.NewReader(b)), contentType))
	if err != nil || !bytes.Equal(one, out) {
		t.Fatalf("through OneByteReader: err %v, equal %v", err, bytes.Equal(one, out))
	}
	if err := iotest.TestReader(StripMetadata(bytes.NewReader(b), contentType), out); err != nil {
		t.Fatalf("iotest.TestReader: %v", err)
	}
	return out
}

func assertAbsent(t *testing.T, out []byte, needles ...string) {
	t.Helper()
	for _, n := range needles {
		if bytes.Contains(out, []byte(n)) {
			t.Errorf("output still holds %q", n)
		}
	}
}

func samePixels(t *testing.T, a, b image.Image) {
	t.Helper()
	if a.Bounds() != b.Bounds() {
		t.Fatalf("bounds %v and %v", a.Bounds(), b.Bounds())
	}
	r := a.Bounds()
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				t.Fatalf("pixel (%d,%d): %v and %v", x, y, a.At(x, y), b.At(x, y))
			}
		}
	}
}

func TestStripJPEG(t *testing.T) {
	enc := encodeJPEG(t, testImage(64, 48, false))
	in := jpegWithMetadata(enc, 0)
	out := strip(t, in, "image/jpeg")

	assertAbsent(t, out, "Exif", "GPSMARK", "xmpmeta", "MPFDATA", "IPTCDATA", "COMMENT", "TRAILING")
	markers := jpegMarkers(t, out)
	want := []string{"\xe0JFIF\x00", "\xe2ICC_P", "\xeeAdobe"}
	if len(markers) < len(want) {
		t.Fatalf("markers %q", markers)
	}
	for i, w := range want {
		if markers[i] != w {
			t.Errorf("segment %d = %q, want %q (all: %q)", i, markers[i], w, markers)
		}
	}
	if !bytes.Contains(out, []byte("ICCDATA")) {
		t.Error("ICC profile data lost")
	}
	a, err := jpeg.Decode(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	b, err := jpeg.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("decoding output: %v", err)
	}
	samePixels(t, a, b)
}

func TestStripJPEGProgressiveAndRestarts(t *testing.T) {
	// Hand-made structure: SOI, DRI, then a scan whose data holds stuffed
	// zeros, restart markers and fill bytes, a second scan, then EOI.
	sos := segment(0xDA, []byte{1, 1, 0, 0, 63, 0})
	var in []byte
	in = append(in, 0xFF, 0xD8)
	in = append(in, segment(0xDD, []byte{0, 4})...)
	in = append(in, segment(0xFE, []byte("note"))...)
	in = append(in, sos...)
	in = append(in, 1, 2, 0xFF, 0x00, 3, 0xFF, 0xD0, 4, 0xFF, 0xFF, 0xFF, 0xD1, 5)
	in = append(in, 0xFF, 0xFF) // fill before a marker
	in = append(in, segment(0xE1, []byte("Exif\x00\x00junk"))...)
	in = append(in, sos...)
	in = append(in, 6, 7)
	in = append(in, 0xFF, 0xD9)
	var want []byte
	want = append(want, 0xFF, 0xD8)
	want = append(want, segment(0xDD, []byte{0, 4})...)
	want = append(want, sos...)
	want = append(want, 1, 2, 0xFF, 0x00, 3, 0xFF, 0xD0, 4, 0xFF, 0xD1, 5)
	want = append(want, sos...)
	want = append(want, 6, 7, 0xFF, 0xD9)
	if out := strip(t, in, "image/jpeg"); !bytes.Equal(out, want) {
		t.Errorf("got  % x\nwant % x", out, want)
	}
}

func TestStripJPEGThumbnailsInAPP0(t *testing.T) {
	enc := encodeJPEG(t, testImage(16, 16, false))
	jfif := []byte("JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x02\x01")
	jfif = append(jfif, "RGBRGB"...) // a 2×1 thumbnail
	jfxx := []byte("JFXX\x00\x13THUMBJPEG")
	var in []byte
	in = append(in, enc[:2]...)
	in = append(in, segment(0xE0, jfif)...)
	in = append(in, segment(0xE0, jfxx)...)
	in = append(in, enc[2:]...)
	out := strip(t, in, "image/jpeg")
	assertAbsent(t, out, "RGBRGB", "JFXX", "THUMB")
	wantAPP0 := segment(0xE0, []byte("JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00"))
	if !bytes.HasPrefix(out[2:], wantAPP0) {
		t.Errorf("APP0 % x", out[2:22])
	}
	if _, err := jpeg.Decode(bytes.NewReader(out)); err != nil {
		t.Error(err)
	}
}

func TestStripJPEGKeepsOrientation(t *testing.T) {
	enc := encodeJPEG(t, testImage(40, 20, false))
	for _, o := range []int{1, 3, 6, 8} {
		out := strip(t, jpegWithMetadata(enc, o), "image/jpeg")
		assertAbsent(t, out, "GPSMARK", "Cam")
		got := jpegOrientation(out)
		if o == 1 {
			if bytes.Contains(out, []byte("Exif")) {
				t.Errorf("orientation 1: an Exif segment is left")
			}
			continue
		}
		if got != o {
			t.Errorf("orientation %d: after stripping %d", o, got)
		}
		w, h, err := Inspect(bytes.NewReader(out), "image/jpeg", Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if o >= 5 && (w != 20 || h != 40) || o < 5 && (w != 40 || h != 20) {
			t.Errorf("orientation %d: Inspect = %d×%d", o, w, h)
		}
	}
}

func TestStripPNG(t *testing.T) {
	enc := encodePNG(t, testImage(32, 16, true))
	in := pngWithMetadata(enc)
	out := strip(t, in, "image/png")
	assertAbsent(t, out, "Ada at home", "xmpmeta", "GPSMARK", "Paris", "TRAILING", "tEXt", "zTXt", "iTXt", "eXIf", "tIME", "exIf", "caMr", "OLDEXIF")
	if got, want := strings.Join(pngChunkTypes(t, out), " "), strings.Join(pngChunkTypes(t, enc), " "); got != want {
		t.Errorf("chunks %q, want %q", got, want)
	}
	if !bytes.Equal(out, enc) {
		t.Error("output differs from the PNG without metadata")
	}
	a, err := png.Decode(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	b, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	samePixels(t, a, b)
}

func TestStripWebP(t *testing.T) {
	in := webpWithMetadata(6, 5)
	out := strip(t, in, "image/webp")
	assertAbsent(t, out, "GPSMARK", "xmpmeta", "EXIF", "XMP ", "TRAILING")
	chunks := strings.Join(webpChunks(t, out), " ")
	if chunks != "VP8X VP8L JUNK JUNK" {
		t.Errorf("chunks %q", chunks)
	}
	if got := int(out[4]) | int(out[5])<<8 | int(out[6])<<16 | int(out[7])<<24; got != len(out)-8 {
		t.Errorf("RIFF size %d, file is %d bytes", got, len(out))
	}
	if flags := out[20]; flags&(vp8xEXIF|vp8xXMP) != 0 {
		t.Errorf("VP8X flags %#x", flags)
	}
	m, err := webp.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("decoding output: %v", err)
	}
	if got := color.NRGBAModel.Convert(m.At(3, 2)).(color.NRGBA); got != webpColour {
		t.Errorf("pixel %v, want %v", got, webpColour)
	}

	// A simple-format file (one VP8L chunk) passes unchanged.
	simple := riff(riffChunk("VP8L", vp8lSolid(3, 3, webpColour)))
	if out := strip(t, simple, "image/webp"); !bytes.Equal(out, simple) {
		t.Error("simple WebP changed")
	}
}

func TestStripGIF(t *testing.T) {
	enc := encodeGIF(t, 10, 6)
	in := gifWithMetadata(enc)
	out := strip(t, in, "image/gif")
	assertAbsent(t, out, "shot at home", "XMP Data", "GPSLatitude", "TRAILING")
	if !bytes.Contains(out, []byte("NETSCAPE2.0")) {
		t.Error("loop extension lost")
	}
	if !bytes.Equal(out, enc) {
		t.Error("output differs from the GIF without metadata")
	}
	a, err := gif.DecodeAll(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	b, err := gif.DecodeAll(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if b.LoopCount != a.LoopCount || len(b.Image) != 2 {
		t.Fatalf("loop %d frames %d", b.LoopCount, len(b.Image))
	}
	for i := range a.Image {
		samePixels(t, a.Image[i], b.Image[i])
	}
}

func TestStripOtherTypesPassThrough(t *testing.T) {
	r := strings.NewReader("%PDF-1.7 Author: Ada")
	if got := StripMetadata(r, "application/pdf"); got != io.Reader(r) {
		t.Error("a PDF reader was wrapped")
	}
	r2 := strings.NewReader("<svg/>")
	if got := StripMetadata(r2, "text/xml; charset=utf-8"); got != io.Reader(r2) {
		t.Error("an SVG reader was wrapped")
	}
}

// testFiles returns one file with metadata of each inline type.
func testFiles(t testing.TB) map[string][]byte {
	return map[string][]byte{
		"image/jpeg": jpegWithMetadata(encodeJPEG(t, testImage(24, 16, false)), 6),
		"image/png":  pngWithMetadata(encodePNG(t, testImage(24, 16, true))),
		"image/webp": webpWithMetadata(24, 16),
		"image/gif":  gifWithMetadata(encodeGIF(t, 24, 16)),
	}
}

func isCode(err error, code string) bool {
	var ce *chat.Error
	return errors.As(err, &ce) && ce.Code == code
}

func TestStripMalformed(t *testing.T) {
	for ct, full := range testFiles(t) {
		t.Run(ct, func(t *testing.T) {
			stripped := strip(t, full, ct)
			// Every truncation of the stripped file (which ends where the
			// image ends) is an error.
			for n := range len(stripped) {
				_, err := io.ReadAll(StripMetadata(bytes.NewReader(stripped[:n]), ct))
				if !isCode(err, chat.EINVALID) {
					t.Fatalf("truncated at %d of %d: err %v, want EINVALID", n, len(stripped), err)
				}
				if n == 0 && !strings.Contains(chat.ErrorMessage(err), "not a valid "+formatName(ct)+" image") {
					t.Errorf("message %q", chat.ErrorMessage(err))
				}
			}
			// Flipped bytes never panic, and never grow the file.
			for i := range full {
				bad := bytes.Clone(full)
				bad[i] ^= 0xA5
				out, _ := io.ReadAll(StripMetadata(bytes.NewReader(bad), ct))
				if len(out) > len(bad) {
					t.Fatalf("flip at %d: output longer than input", i)
				}
			}
		})
	}
	for _, ct := range []string{"image/jpeg", "image/png", "image/webp", "image/gif"} {
		_, err := io.ReadAll(StripMetadata(strings.NewReader("this is not an image at all"), ct))
		if !isCode(err, chat.EINVALID) {
			t.Errorf("%s: garbage gives %v", ct, err)
		}
	}
}

func TestStripReaderErrorPassesThrough(t *testing.T) {
	for ct, full := range testFiles(t) {
		r := io.MultiReader(bytes.NewReader(full[:20]), iotest.ErrReader(iotest.ErrTimeout))
		_, err := io.ReadAll(StripMetadata(r, ct))
		if !errors.Is(err, iotest.ErrTimeout) {
			t.Errorf("%s: err %v, want the reader's", ct, err)
		}
	}
}

func TestStripMetadataAllocsFlat(t *testing.T) {
	small, large := jpegStream(1<<20), jpegStream(8<<20)
	buf := make([]byte, 32<<10)
	allocs := func(b []byte) float64 {
		return testing.AllocsPerRun(5, func() {
			if err := drain(StripMetadata(bytes.NewReader(b), "image/jpeg"), buf); err != nil {
				t.Fatal(err)
			}
		})
	}
	if a, b := allocs(small), allocs(large); b > a {
		t.Errorf("allocations grow with size: %v for 1 MiB, %v for 8 MiB", a, b)
	}
}

// jpegStream returns a JPEG-like stream of about n bytes: headers with
// metadata, then one scan of pseudo-random entropy-coded data (0xFF
// stuffed, restart markers every 4 KiB) and EOI.
func jpegStream(n int) []byte {
	var b []byte
	b = append(b, 0xFF, 0xD8)
	b = append(b, segment(0xE0, []byte("JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00"))...)
	b = append(b, segment(0xE1, append([]byte("Exif\x00\x00"), tiffWithGPS(6)...))...)
	b = append(b, segment(0xFE, []byte("comment"))...)
	b = append(b, segment(0xDA, []byte{1, 1, 0, 0, 63, 0})...)
	x := uint32(2463534242)
	rst := byte(0)
	for len(b) < n {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		c := byte(x)
		b = append(b, c)
		if c == 0xFF {
			b = append(b, 0)
		}
		if len(b)%4096 == 0 {
			b = append(b, 0xFF, 0xD0+rst)
			rst = (rst + 1) % 8
		}
	}
	return append(b, 0xFF, 0xD9)
}

// drain reads r to its end into buf, again and again.
func drain(r io.Reader, buf []byte) error {
	for {
		_, err := r.Read(buf)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func TestStripWebPLossyFiles(t *testing.T) {
	rose, err := os.ReadFile("testdata/yellow_rose.lossy-with-alpha.webp")
	if err != nil {
		t.Fatal(err)
	}
	video, err := os.ReadFile("testdata/video-001.lossy.webp")
	if err != nil {
		t.Fatal(err)
	}
	// The rose with EXIF and XMP chunks appended and their flags set.
	in := append(bytes.Clone(rose), riffChunk("EXIF", tiffWithGPS(0))...)
	in = append(in, riffChunk("XMP ", []byte(xmpPacket))...)
	binary.LittleEndian.PutUint32(in[4:], uint32(len(in)-8))
	in[20] |= vp8xEXIF | vp8xXMP

	out := strip(t, in, "image/webp")
	assertAbsent(t, out, "GPSMARK", "xmpmeta")
	if got := strings.Join(webpChunks(t, out), " "); got != "VP8X ALPH VP8  JUNK JUNK" {
		t.Errorf("chunks %q", got)
	}
	want := bytes.Clone(in[:len(rose)])
	want[20] &^= vp8xEXIF | vp8xXMP
	if !bytes.Equal(out[:len(rose)], want) || !bytes.Equal(out[12:20], rose[12:20]) || !bytes.Equal(out[21:len(rose)], rose[21:]) {
		t.Error("the image chunks changed")
	}
	if got := binary.LittleEndian.Uint32(out[4:]); int(got) != len(out)-8 {
		t.Errorf("RIFF size %d, file %d bytes", got, len(out))
	}
	a, err := webp.Decode(bytes.NewReader(rose))
	if err != nil {
		t.Fatal(err)
	}
	b, err := webp.Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("decoding output: %v", err)
	}
	samePixels(t, a, b)

	if out := strip(t, video, "image/webp"); !bytes.Equal(out, video) {
		t.Error("a simple lossy WebP changed")
	}

	_, typ, w, h, err := Thumbnail(bytes.NewReader(out), "image/webp", Limits{ThumbMax: 100})
	if err != nil || typ != "image/png" {
		t.Errorf("thumbnail of the rose: %s %d×%d, %v; want a PNG (it has transparency)", typ, w, h, err)
	}
	_, typ, _, _, err = Thumbnail(bytes.NewReader(video), "image/webp", Limits{})
	if err != nil || typ != "image/jpeg" {
		t.Errorf("thumbnail of the video frame: %s, %v", typ, err)
	}
}
