package imaging

import (
	"bytes"
	"fmt"
	"image"
	"testing"

	dimg "github.com/disintegration/imaging"
	xdraw "golang.org/x/image/draw"
)

// BenchmarkStripMetadata strips a JPEG-like stream of 1 and 25 MiB;
// allocations per operation are the same for both.
func BenchmarkStripMetadata(b *testing.B) {
	for _, size := range []int{1 << 20, 25 << 20} {
		data := jpegStream(size)
		buf := make([]byte, 32<<10)
		b.Run(fmt.Sprintf("%dMiB", size>>20), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				if err := drain(StripMetadata(bytes.NewReader(data), "image/jpeg"), buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkThumbnail makes a 400×300 thumbnail of a 4000×3000 JPEG.
func BenchmarkThumbnail(b *testing.B) {
	data := encodeJPEG(b, testImage(4000, 3000, false))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_, _, w, h, err := Thumbnail(bytes.NewReader(data), "image/jpeg", Limits{})
		if err != nil || w != 400 || h != 300 {
			b.Fatalf("%d×%d, %v", w, h, err)
		}
	}
}

// BenchmarkScale compares the scalers considered for thumbnails on a
// 4000×3000 photo (as image/jpeg decodes it: YCbCr 4:2:0) scaled to
// 400×300: golang.org/x/image/draw and github.com/disintegration/imaging,
// each with its Catmull-Rom kernel. The package doc gives the numbers.
func BenchmarkScale(b *testing.B) {
	src := image.NewYCbCr(image.Rect(0, 0, 4000, 3000), image.YCbCrSubsampleRatio420)
	for i := range src.Y {
		src.Y[i] = uint8(i * 7)
	}
	for i := range src.Cb {
		src.Cb[i], src.Cr[i] = uint8(i/13), uint8(i/17)
	}
	b.Run("x-image-draw", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			dst := image.NewRGBA(image.Rect(0, 0, 400, 300))
			xdraw.CatmullRom.Scale(dst, dst.Bounds(), src, src.Bounds(), xdraw.Src, nil)
		}
	})
	b.Run("disintegration-imaging", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = dimg.Resize(src, 400, 300, dimg.CatmullRom)
		}
	})
}
