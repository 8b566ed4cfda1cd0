package imaging

import (
	"bytes"
	"io"
	"os"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

var inlineTypes = []string{"image/jpeg", "image/png", "image/webp", "image/gif"}

func fuzzSeeds(f *testing.F) {
	for ct, b := range testFiles(f) {
		for i, t := range inlineTypes {
			if t == ct {
				f.Add(b, uint8(i))
			}
		}
	}
	f.Add(pngBomb(100000, 100000), uint8(1))
	f.Add(riff(riffChunk("VP8L", vp8lSolid(3, 3, webpColour))), uint8(2))
	f.Add(jpegStream(2000), uint8(0))
	for _, name := range []string{"testdata/video-001.lossy.webp", "testdata/yellow_rose.lossy-with-alpha.webp"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(2))
	}
}

func FuzzStripMetadata(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		ct := inlineTypes[int(kind)%len(inlineTypes)]
		out, err := io.ReadAll(StripMetadata(bytes.NewReader(data), ct))
		if len(out) > len(data) {
			t.Fatalf("output %d bytes, input %d", len(out), len(data))
		}
		if err != nil && chat.ErrorCode(err) != chat.EINVALID {
			t.Fatalf("error %v, want EINVALID", err)
		}
		if err == nil {
			// What was stripped strips to itself.
			again, err := io.ReadAll(StripMetadata(bytes.NewReader(out), ct))
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("stripping the output again: err %v, equal %v", err, bytes.Equal(again, out))
			}
		}
	})
}

func FuzzInspect(f *testing.F) {
	fuzzSeeds(f)
	lim := Limits{MaxPixels: 1 << 20, ThumbMax: 64}
	f.Fuzz(func(t *testing.T, data []byte, kind uint8) {
		ct := inlineTypes[int(kind)%len(inlineTypes)]
		w, h, err := Inspect(bytes.NewReader(data), ct, lim)
		if err != nil {
			if c := chat.ErrorCode(err); c != chat.EINVALID && c != chat.ETOOLARGE {
				t.Fatalf("Inspect error %v", err)
			}
			return
		}
		if w <= 0 || h <= 0 || int64(w)*int64(h) > lim.MaxPixels {
			t.Fatalf("Inspect = %d×%d", w, h)
		}
		_, _, tw, th, err := Thumbnail(bytes.NewReader(data), ct, lim)
		if err != nil {
			if c := chat.ErrorCode(err); c != chat.EINVALID {
				t.Fatalf("Thumbnail error %v", err)
			}
			return
		}
		if tw <= 0 || th <= 0 || tw > lim.ThumbMax || th > lim.ThumbMax {
			t.Fatalf("thumbnail %d×%d", tw, th)
		}
	})
}
