package imaging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/draw"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"

	dimg "github.com/disintegration/imaging"
	"golang.org/x/image/webp"

	"github.com/parleychat/parley/internal/chat"
)

// Limits bound the work that Inspect and Thumbnail do for one image.
type Limits struct {
	// MaxPixels is the largest width × height, in pixels, that is decoded;
	// larger images are refused before their pixels are allocated
	// (a decompression bomb claims a huge size in a tiny file). Zero means
	// DefaultMaxPixels.
	MaxPixels int64
	// ThumbMax is the longest side of a thumbnail, in pixels. Zero means
	// DefaultThumbMax.
	ThumbMax int
}

// Defaults for the zero fields of Limits.
const (
	DefaultMaxPixels = 40_000_000 // 40 megapixels: 160 MB decoded as RGBA
	DefaultThumbMax  = 400
)

// thumbQuality is the JPEG quality of thumbnails (1 to 100).
const thumbQuality = 80

func (l Limits) maxPixels() int64 {
	if l.MaxPixels <= 0 {
		return DefaultMaxPixels
	}
	return l.MaxPixels
}

func (l Limits) thumbMax() int {
	if l.ThumbMax <= 0 {
		return DefaultThumbMax
	}
	return l.ThumbMax
}

// Inspect reads the header of an image of an inline type (see Inline) and
// returns its width and height in pixels as it is shown: a JPEG whose Exif
// orientation turns it a quarter turn has them swapped. It reads only as
// far as the header (image.DecodeConfig) and decodes no pixels.
//
// Errors are *chat.Error: EINVALID when contentType is not an inline type
// or the header is not valid, ETOOLARGE when width × height exceeds
// lim.MaxPixels. An error of r itself is returned as it is.
func Inspect(r io.Reader, contentType string, lim Limits) (width, height int, err error) {
	h, err := readHeader(r, contentType, lim)
	if err != nil {
		return 0, 0, err
	}
	width, height = h.cfg.Width, h.cfg.Height
	if h.orientation >= 5 {
		width, height = height, width
	}
	return width, height, nil
}

// Thumbnail decodes an image of an inline type (the first frame of an
// animated GIF), after checking its size as Inspect does, and returns it
// turned upright (Exif orientation) and scaled to fit within
// lim.ThumbMax × lim.ThumbMax pixels, keeping its aspect ratio and never
// scaled up. data is a JPEG (quality 80) when the thumbnail is opaque and
// a PNG when it has any transparency; thumbType is "image/jpeg" or
// "image/png"; width and height are the thumbnail's, in pixels.
//
// An animated WebP, which golang.org/x/image/webp does not decode, has no
// preview: data is nil and err nil. Errors are those of Inspect, and
// EINVALID when the image data cannot be decoded.
func Thumbnail(r io.Reader, contentType string, lim Limits) (data []byte, thumbType string, width, height int, err error) {
	h, err := readHeader(r, contentType, lim)
	if err != nil {
		return nil, "", 0, 0, err
	}
	if contentType == typeWebP && h.webpAnimated {
		return nil, "", 0, 0, nil
	}
	var img image.Image
	switch contentType {
	case typePNG:
		img, err = png.Decode(h.rest)
	case typeJPEG:
		img, err = jpeg.Decode(h.rest)
	case typeGIF:
		img, err = gif.Decode(h.rest)
	case typeWebP:
		img, err = webp.Decode(h.rest)
	}
	if err != nil {
		return nil, "", 0, 0, decodeError(h.src, contentType, err)
	}
	b := img.Bounds()
	if full := image.Rect(0, 0, h.cfg.Width, h.cfg.Height); b != full {
		// A GIF frame may cover part of the logical screen only.
		if !b.In(full) {
			return nil, "", 0, 0, invalidImage(formatName(contentType))
		}
		canvas := image.NewNRGBA(full)
		draw.Draw(canvas, b, img, b.Min, draw.Src)
		img = canvas
	}

	tw, th := fit(h.cfg.Width, h.cfg.Height, lim.thumbMax())
	thumb := orient(dimg.Resize(img, tw, th, dimg.CatmullRom), h.orientation)

	var buf bytes.Buffer
	if thumb.Opaque() {
		// Opaque, its non-premultiplied pixels are premultiplied ones too:
		// as *image.RGBA the encoder takes its fast path.
		rgba := &image.RGBA{Pix: thumb.Pix, Stride: thumb.Stride, Rect: thumb.Rect}
		err = jpeg.Encode(&buf, rgba, &jpeg.Options{Quality: thumbQuality})
		thumbType = typeJPEG
	} else {
		err = png.Encode(&buf, thumb)
		thumbType = typePNG
	}
	if err != nil {
		return nil, "", 0, 0, err
	}
	tb := thumb.Bounds()
	return buf.Bytes(), thumbType, tb.Dx(), tb.Dy(), nil
}

// fit returns the size of a w×h image scaled to fit in limit×limit, keeping
// its aspect ratio (each side at least 1 pixel) and never larger than w×h.
func fit(w, h, limit int) (int, int) {
	if w <= limit && h <= limit {
		return w, h
	}
	if w >= h {
		return limit, scaleSide(h, limit, w)
	}
	return scaleSide(w, limit, h), limit
}

// scaleSide returns round(side × num / den), at least 1.
func scaleSide(side, num, den int) int {
	v := int((int64(side)*int64(num)*2 + int64(den)) / (2 * int64(den)))
	return max(v, 1)
}

// orient turns img upright according to an Exif orientation (1 to 8,
// Exif 2.3 tag 0x0112); 0 and 1 leave it as it is.
func orient(img *image.NRGBA, orientation int) *image.NRGBA {
	switch orientation {
	case 2:
		return dimg.FlipH(img)
	case 3:
		return dimg.Rotate180(img)
	case 4:
		return dimg.FlipV(img)
	case 5:
		return dimg.Transpose(img)
	case 6:
		return dimg.Rotate270(img)
	case 7:
		return dimg.Transverse(img)
	case 8:
		return dimg.Rotate90(img)
	}
	return img
}

// header is what readHeader learns of an image.
type header struct {
	cfg          image.Config
	orientation  int       // Exif orientation of a JPEG, 0 when none
	webpAnimated bool      // the VP8X animation flag of a WebP
	rest         io.Reader // the whole file again, header included
	src          *errReader
}

// readHeader reads an image's header, checks its size against lim, and
// returns a reader of the whole file for decoding: the bytes the header
// took are kept and read again before the rest.
func readHeader(r io.Reader, contentType string, lim Limits) (header, error) {
	var decodeConfig func(io.Reader) (image.Config, error)
	switch contentType {
	case typePNG:
		decodeConfig = png.DecodeConfig
	case typeJPEG:
		decodeConfig = jpeg.DecodeConfig
	case typeGIF:
		decodeConfig = gif.DecodeConfig
	case typeWebP:
		decodeConfig = webp.DecodeConfig
	default:
		return header{}, chat.Errorf(chat.EINVALID, "%s is not an image type that can be previewed", contentType)
	}
	src := &errReader{r: r}
	var head bytes.Buffer
	cfg, err := decodeConfig(io.TeeReader(src, &head))
	if err != nil {
		return header{}, decodeError(src, contentType, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return header{}, invalidImage(formatName(contentType))
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px > lim.maxPixels() {
		return header{}, chat.Errorf(chat.ETOOLARGE,
			"image is too large: %d×%d pixels, at most %d megapixels", cfg.Width, cfg.Height, lim.maxPixels()/1_000_000)
	}
	h := header{cfg: cfg, src: src}
	hb := head.Bytes()
	switch contentType {
	case typeJPEG:
		h.orientation = jpegOrientation(hb)
	case typeWebP:
		// RIFF header (12 bytes), then a VP8X chunk header (8) and flags.
		h.webpAnimated = len(hb) > 20 && string(hb[12:16]) == "VP8X" && hb[20]&0x02 != 0
	}
	h.rest = io.MultiReader(&head, src)
	return h, nil
}

// decodeError turns a decoder's error into EINVALID, unless the reader
// itself failed: that error is returned as it is.
func decodeError(src *errReader, contentType string, err error) error {
	if src.err != nil {
		return src.err
	}
	var ce *chat.Error
	if errors.As(err, &ce) {
		return ce
	}
	e := invalidImage(formatName(contentType))
	e.Cause = err
	return e
}

// jpegOrientation returns the Exif orientation found in the segments of a
// JPEG file's start before its first frame header, or 0.
func jpegOrientation(b []byte) int {
	if len(b) < 2 || b[0] != 0xFF || b[1] != mSOI {
		return 0
	}
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			i++
			continue
		}
		m := b[i+1]
		switch {
		case m == 0xFF || m == 0x00:
			i++
			continue
		case m == mTEM || (m >= mRST0 && m <= mRST7):
			i += 2
			continue
		case m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC, m == mSOS, m == mEOI:
			return 0 // a frame header: the Exif segment comes before it
		}
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		end := i + 2 + n
		if n < 2 || end > len(b) {
			return 0
		}
		if p := b[i+4 : end]; m == mAPP1 && len(p) >= len(exifID) && string(p[:len(exifID)]) == exifID {
			return exifOrientation(p[len(exifID):])
		}
		i = end
	}
	return 0
}
