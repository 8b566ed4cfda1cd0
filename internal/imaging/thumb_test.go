package imaging

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/jpeg"
	"image/png"
	"io"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

func TestInspectAndThumbnailSizes(t *testing.T) {
	tests := []struct {
		name         string
		file         []byte
		contentType  string
		w, h         int // Inspect
		tw, th       int // Thumbnail
		thumbType    string
		transparency bool
	}{
		{"landscape png", encodePNG(t, testImage(1200, 800, false)), "image/png", 1200, 800, 400, 267, "image/jpeg", false},
		{"portrait jpeg", encodeJPEG(t, testImage(600, 1000, false)), "image/jpeg", 600, 1000, 240, 400, "image/jpeg", false},
		{"small png, not scaled up", encodePNG(t, testImage(50, 30, false)), "image/png", 50, 30, 50, 30, "image/jpeg", false},
		{"square gif", encodeGIF(t, 500, 500), "image/gif", 500, 500, 400, 400, "image/jpeg", false},
		{"transparent png", encodePNG(t, testImage(800, 200, true)), "image/png", 800, 200, 400, 100, "image/png", true},
		{"webp", webpWithMetadata(30, 900), "image/webp", 30, 900, 13, 400, "image/jpeg", false},
		{"very thin", encodePNG(t, testImage(2000, 1, false)), "image/png", 2000, 1, 400, 1, "image/jpeg", false},
		{"rotated jpeg", jpegWithMetadata(encodeJPEG(t, testImage(800, 600, false)), 6), "image/jpeg", 600, 800, 300, 400, "image/jpeg", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, h, err := Inspect(bytes.NewReader(tt.file), tt.contentType, Limits{})
			if err != nil || w != tt.w || h != tt.h {
				t.Errorf("Inspect = %d×%d, %v; want %d×%d", w, h, err, tt.w, tt.h)
			}
			data, typ, tw, th, err := Thumbnail(bytes.NewReader(tt.file), tt.contentType, Limits{MaxPixels: 40e6, ThumbMax: 400})
			if err != nil {
				t.Fatalf("Thumbnail: %v", err)
			}
			if tw != tt.tw || th != tt.th || typ != tt.thumbType {
				t.Errorf("Thumbnail = %s %d×%d, want %s %d×%d", typ, tw, th, tt.thumbType, tt.tw, tt.th)
			}
			var m image.Image
			if typ == "image/png" {
				m, err = png.Decode(bytes.NewReader(data))
			} else {
				m, err = jpeg.Decode(bytes.NewReader(data))
			}
			if err != nil {
				t.Fatalf("decoding the thumbnail: %v", err)
			}
			if b := m.Bounds(); b.Dx() != tw || b.Dy() != th {
				t.Errorf("thumbnail is %v, said %d×%d", b, tw, th)
			}
			if tt.transparency {
				if _, _, _, a := m.At(0, 0).RGBA(); a == 0xFFFF {
					t.Error("transparency lost")
				}
			}
		})
	}
}

func TestThumbnailTurnsUpright(t *testing.T) {
	// A 40×20 image whose left half is black and right half white, stored
	// with orientation 6 (shown turned a quarter clockwise): upright, its
	// top is black and its bottom white.
	m := image.NewGray(image.Rect(0, 0, 40, 20))
	for y := range 20 {
		for x := 20; x < 40; x++ {
			m.Pix[y*m.Stride+x] = 255
		}
	}
	file := jpegWithMetadata(encodeJPEG(t, m), 6)
	data, _, w, h, err := Thumbnail(bytes.NewReader(file), "image/jpeg", Limits{})
	if err != nil || w != 20 || h != 40 {
		t.Fatalf("Thumbnail = %d×%d, %v", w, h, err)
	}
	th, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	top, _, _, _ := th.At(10, 5).RGBA()
	bottom, _, _, _ := th.At(10, 35).RGBA()
	if top > 0x2000 || bottom < 0xE000 {
		t.Errorf("top %#x, bottom %#x: not turned upright", top, bottom)
	}
}

// pngBomb returns a PNG that claims w×h pixels in a few dozen bytes.
func pngBomb(w, h uint32) []byte {
	ihdr := binary.BigEndian.AppendUint32(nil, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 6, 0, 0, 0) // 8-bit RGBA
	b := []byte(pngSignature)
	b = append(b, pngChunk("IHDR", ihdr)...)
	b = append(b, pngChunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})...)
	return append(b, pngChunk("IEND", nil)...)
}

func TestDecompressionBombs(t *testing.T) {
	gifBomb := []byte("GIF89a\xff\xff\xff\xff\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
	bombs := map[string][]byte{
		"image/png":  pngBomb(100000, 100000),
		"image/gif":  gifBomb,
		"image/webp": riff(vp8x(0, 40000, 40000), riffChunk("VP8L", vp8lSolid(2, 2, webpColour))),
	}
	for ct, b := range bombs {
		_, _, err := Inspect(bytes.NewReader(b), ct, Limits{MaxPixels: 40e6})
		if !isCode(err, chat.ETOOLARGE) {
			t.Errorf("%s: Inspect err %v, want ETOOLARGE", ct, err)
		}
		_, _, _, _, err = Thumbnail(bytes.NewReader(b), ct, Limits{MaxPixels: 40e6})
		if !isCode(err, chat.ETOOLARGE) {
			t.Errorf("%s: Thumbnail err %v, want ETOOLARGE", ct, err)
		}
	}
	// The limit is the caller's.
	small := encodePNG(t, testImage(100, 100, false))
	if _, _, err := Inspect(bytes.NewReader(small), "image/png", Limits{MaxPixels: 9999}); !isCode(err, chat.ETOOLARGE) {
		t.Errorf("100×100 with MaxPixels 9999: %v", err)
	}
	if _, _, err := Inspect(bytes.NewReader(small), "image/png", Limits{MaxPixels: 10000}); err != nil {
		t.Errorf("100×100 with MaxPixels 10000: %v", err)
	}
}

func TestInspectAndThumbnailRefuse(t *testing.T) {
	png := encodePNG(t, testImage(20, 20, false))
	cases := []struct {
		name, contentType string
		file              []byte
	}{
		{"garbage png", "image/png", []byte("garbage, not a picture")},
		{"garbage jpeg", "image/jpeg", []byte("garbage, not a picture")},
		{"garbage gif", "image/gif", []byte("garbage, not a picture")},
		{"garbage webp", "image/webp", []byte("garbage, not a picture")},
		{"empty", "image/png", nil},
		{"truncated png", "image/png", png[:len(png)/2]},
		{"pdf", "application/pdf", []byte("%PDF-1.7")},
		{"svg", "image/svg+xml", []byte("<svg/>")},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, _, _, err := Thumbnail(bytes.NewReader(c.file), c.contentType, Limits{})
			if !isCode(err, chat.EINVALID) {
				t.Errorf("Thumbnail err %v, want EINVALID", err)
			}
			if c.name == "truncated png" {
				return // the header is whole
			}
			if _, _, err := Inspect(bytes.NewReader(c.file), c.contentType, Limits{}); !isCode(err, chat.EINVALID) {
				t.Errorf("Inspect err %v, want EINVALID", err)
			}
		})
	}
	_, _, err := Inspect(strings.NewReader("garbage"), "image/png", Limits{})
	if msg := chat.ErrorMessage(err); msg != "not a valid PNG image" {
		t.Errorf("message %q", msg)
	}
}

func TestInspectReaderErrorPassesThrough(t *testing.T) {
	file := encodePNG(t, testImage(20, 20, false))
	r := io.MultiReader(bytes.NewReader(file[:10]), iotestErr{})
	if _, _, err := Inspect(r, "image/png", Limits{}); err != errBroken {
		t.Errorf("err %v, want the reader's", err)
	}
}

type iotestErr struct{}

var errBroken = io.ErrClosedPipe

func (iotestErr) Read([]byte) (int, error) { return 0, errBroken }

func TestFit(t *testing.T) {
	for _, c := range []struct{ w, h, lim, tw, th int }{
		{4000, 3000, 400, 400, 300},
		{3000, 4000, 400, 300, 400},
		{400, 400, 400, 400, 400},
		{401, 1, 400, 400, 1},
		{1, 10000, 400, 1, 400},
		{10, 10, 400, 10, 10},
	} {
		if tw, th := fit(c.w, c.h, c.lim); tw != c.tw || th != c.th {
			t.Errorf("fit(%d, %d, %d) = %d×%d, want %d×%d", c.w, c.h, c.lim, tw, th, c.tw, c.th)
		}
	}
}

// TestThumbnailAnimatedWebP: an animated WebP is a valid image without a
// preview: no thumbnail, no error.
func TestThumbnailAnimatedWebP(t *testing.T) {
	data, thumbType, w, h, err := Thumbnail(bytes.NewReader(riff(vp8x(0x02, 4, 4), riffChunk("ANIM", make([]byte, 6)))), "image/webp", Limits{})
	if err != nil || data != nil || thumbType != "" || w != 0 || h != 0 {
		t.Errorf("Thumbnail = %d bytes, %q, %d×%d, %v; want no preview and no error", len(data), thumbType, w, h, err)
	}
}
