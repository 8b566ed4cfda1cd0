package imaging

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"testing"
)

// testImage returns a w×h image with a pattern; with alpha, its left half
// is half transparent.
func testImage(w, h int, alpha bool) *image.NRGBA {
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.NRGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8((x + y) % 256), 255}
			if alpha && x < w/2 {
				c.A = 128
			}
			m.SetNRGBA(x, y, c)
		}
	}
	return m
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func encodeJPEG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, m, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// encodeGIF returns a two-frame animated GIF that loops forever.
func encodeGIF(t testing.TB, w, h int) []byte {
	t.Helper()
	g := &gif.GIF{LoopCount: 0}
	for i := range 2 {
		p := image.NewPaletted(image.Rect(0, 0, w, h), palette.Plan9)
		for y := range h {
			for x := range w {
				p.SetColorIndex(x, y, uint8((x+y+i*7)%256))
			}
		}
		g.Image = append(g.Image, p)
		g.Delay = append(g.Delay, 10)
	}
	var b bytes.Buffer
	if err := gif.EncodeAll(&b, g); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// segment returns a JPEG marker segment: 0xFF, marker, length, payload.
func segment(marker byte, payload []byte) []byte {
	s := []byte{0xFF, marker, 0, 0}
	binary.BigEndian.PutUint16(s[2:], uint16(len(payload)+2))
	return append(s, payload...)
}

// tiffWithGPS returns a little-endian TIFF structure (the body of an Exif
// segment) whose IFD0 holds Make, Orientation (when orientation > 0) and a
// GPS IFD with latitude and longitude.
func tiffWithGPS(orientation int) []byte {
	le := binary.LittleEndian
	var b []byte
	b = append(b, 'I', 'I', 42, 0, 8, 0, 0, 0)
	type entry struct {
		tag, typ uint16
		count    uint32
		value    uint32
	}
	entries := []entry{{0x010F, 2, 4, le.Uint32([]byte("Cam\x00"))}}
	if orientation > 0 {
		entries = append(entries, entry{0x0112, 3, 1, uint32(orientation)})
	}
	gpsOff := uint32(8 + 2 + 12*(len(entries)+1) + 4)
	entries = append(entries, entry{0x8825, 4, 1, gpsOff})
	b = le.AppendUint16(b, uint16(len(entries)))
	for _, e := range entries {
		b = le.AppendUint16(b, e.tag)
		b = le.AppendUint16(b, e.typ)
		b = le.AppendUint32(b, e.count)
		b = le.AppendUint32(b, e.value)
	}
	b = le.AppendUint32(b, 0)
	// GPS IFD: GPSLatitudeRef "N", GPSLatitude, GPSLongitudeRef "E",
	// GPSLongitude; the rationals follow the IFD.
	ratOff := uint32(len(b)) + 2 + 4*12 + 4
	b = le.AppendUint16(b, 4)
	b = append(b, 1, 0, 2, 0, 2, 0, 0, 0, 'N', 0, 0, 0)
	b = le.AppendUint16(b, 2)
	b = le.AppendUint16(b, 5)
	b = le.AppendUint32(b, 3)
	b = le.AppendUint32(b, ratOff)
	b = append(b, 3, 0, 2, 0, 2, 0, 0, 0, 'E', 0, 0, 0)
	b = le.AppendUint16(b, 4)
	b = le.AppendUint16(b, 5)
	b = le.AppendUint32(b, 3)
	b = le.AppendUint32(b, ratOff+24)
	b = le.AppendUint32(b, 0)
	for _, v := range []uint32{48, 1, 51, 1, 2400, 100, 2, 1, 17, 1, 4000, 100} {
		b = le.AppendUint32(b, v)
	}
	return append(b, "GPSMARK"...)
}

const xmpPacket = `<?xpacket begin=""?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description exif:GPSLatitude="48,51.24N"/></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`

// jpegWithMetadata returns enc (a JPEG from image/jpeg, which writes no
// APPn) with, after SOI: APP0 JFIF, APP1 Exif with GPS tags, APP1 XMP,
// APP2 ICC_PROFILE, APP2 MPF, APP13 Photoshop, APP14 Adobe, COM; and junk
// after EOI.
func jpegWithMetadata(enc []byte, orientation int) []byte {
	var b []byte
	b = append(b, enc[:2]...)
	b = append(b, segment(0xE0, []byte("JFIF\x00\x01\x02\x00\x00\x01\x00\x01\x00\x00"))...)
	b = append(b, segment(0xE1, append([]byte("Exif\x00\x00"), tiffWithGPS(orientation)...))...)
	b = append(b, segment(0xE1, append([]byte("http://ns.adobe.com/xap/1.0/\x00"), xmpPacket...))...)
	b = append(b, segment(0xE2, append([]byte("ICC_PROFILE\x00\x01\x01"), "ICCDATA"...))...)
	b = append(b, segment(0xE2, []byte("MPF\x00MPFDATA"))...)
	b = append(b, segment(0xED, []byte("Photoshop 3.0\x008BIMIPTCDATA"))...)
	b = append(b, segment(0xEE, []byte("Adobe\x00\x64\x00\x00\x00\x00\x01"))...)
	b = append(b, segment(0xFE, []byte("COMMENT shot at home"))...)
	b = append(b, enc[2:]...)
	return append(b, "TRAILINGEXIF"...)
}

// jpegMarkers lists the markers of a JPEG's segments before the first SOS,
// each with the first bytes of its payload.
func jpegMarkers(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	i := 2
	for i+4 <= len(b) {
		if b[i] != 0xFF {
			t.Fatalf("no marker at %d", i)
		}
		m := b[i+1]
		n := int(binary.BigEndian.Uint16(b[i+2:]))
		p := b[i+4 : i+2+n]
		out = append(out, string([]byte{m})+string(p[:min(len(p), 5)]))
		if m == 0xDA {
			break
		}
		i += 2 + n
	}
	return out
}

// pngChunk returns a PNG chunk with its CRC.
func pngChunk(typ string, data []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	b = append(b, typ...)
	b = append(b, data...)
	return binary.BigEndian.AppendUint32(b, crc32.ChecksumIEEE(b[4:]))
}

// pngWithMetadata inserts tEXt, zTXt, iTXt, eXIf and tIME chunks after the
// IHDR of enc, another tEXt before IEND, and junk after IEND.
func pngWithMetadata(enc []byte) []byte {
	const ihdrEnd = 8 + 25
	var b []byte
	b = append(b, enc[:ihdrEnd]...)
	b = append(b, pngChunk("tEXt", []byte("Author\x00Ada at home"))...)
	b = append(b, pngChunk("zTXt", []byte("Comment\x00\x00x\x9c"))...)
	b = append(b, pngChunk("iTXt", []byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"+xmpPacket))...)
	b = append(b, pngChunk("eXIf", tiffWithGPS(0))...)
	b = append(b, pngChunk("tIME", []byte{0x07, 0xEA, 12, 1, 19, 0, 0})...)
	// EXIF in the chunk old ImageMagick wrote, and a camera's own chunk:
	// no list of metadata chunks names them.
	b = append(b, pngChunk("exIf", []byte("OLDEXIF GPSMARK 48.8584N"))...)
	b = append(b, pngChunk("caMr", []byte("Cam serial 0042 GPSMARK"))...)
	iend := len(enc) - 12
	b = append(b, enc[ihdrEnd:iend]...)
	b = append(b, pngChunk("tEXt", []byte("Location\x00Paris"))...)
	b = append(b, enc[iend:]...)
	return append(b, "TRAILINGTEXT"...)
}

// pngChunkTypes lists the chunk types of a PNG.
func pngChunkTypes(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for i := 8; i+8 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[i:]))
		out = append(out, string(b[i+4:i+8]))
		i += 12 + n
	}
	return out
}

// bitWriter writes bits least significant first, as VP8L reads them.
type bitWriter struct {
	b    []byte
	nbit uint
}

func (w *bitWriter) write(v uint32, n uint) {
	for i := range n {
		if w.nbit%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>i&1 != 0 {
			w.b[len(w.b)-1] |= 1 << (w.nbit % 8)
		}
		w.nbit++
	}
}

// vp8lSolid returns a VP8L bitstream (WebP lossless) of a w×h image of one
// colour: no transform, no colour cache, and five prefix codes of one
// symbol each, so that pixels take no bits.
func vp8lSolid(w, h int, c color.NRGBA) []byte {
	var bw bitWriter
	bw.write(0x2f, 8)
	bw.write(uint32(w-1), 14)
	bw.write(uint32(h-1), 14)
	alpha := uint32(0)
	if c.A != 255 {
		alpha = 1
	}
	bw.write(alpha, 1)
	bw.write(0, 3) // version
	bw.write(0, 1) // no transform
	bw.write(0, 1) // no colour cache
	bw.write(0, 1) // no meta prefix codes
	for _, sym := range []uint8{c.G, c.R, c.B, c.A, 0} {
		bw.write(1, 1) // simple code
		bw.write(0, 1) // one symbol
		bw.write(1, 1) // 8-bit symbol
		bw.write(uint32(sym), 8)
	}
	return bw.b
}

// riffChunk returns a RIFF chunk, padded to an even length.
func riffChunk(fourCC string, data []byte) []byte {
	b := append([]byte(fourCC), 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(b[4:], uint32(len(data)))
	b = append(b, data...)
	if len(data)%2 == 1 {
		b = append(b, 0)
	}
	return b
}

// riff wraps chunks in a RIFF WEBP header.
func riff(chunks ...[]byte) []byte {
	var body []byte
	for _, c := range chunks {
		body = append(body, c...)
	}
	b := []byte("RIFF\x00\x00\x00\x00WEBP")
	binary.LittleEndian.PutUint32(b[4:], uint32(4+len(body)))
	return append(b, body...)
}

// vp8x returns a VP8X chunk with the given flags and canvas size.
func vp8x(flags byte, w, h int) []byte {
	d := make([]byte, 10)
	d[0] = flags
	d[4], d[5], d[6] = byte(w-1), byte((w-1)>>8), byte((w-1)>>16)
	d[7], d[8], d[9] = byte(h-1), byte((h-1)>>8), byte((h-1)>>16)
	return riffChunk("VP8X", d)
}

var webpColour = color.NRGBA{R: 200, G: 100, B: 50, A: 255}

// webpWithMetadata returns an extended-format WebP (VP8X with the EXIF and
// XMP flags set, a VP8L image, an EXIF chunk of odd size with GPS tags and
// an XMP chunk) and junk after the RIFF payload.
func webpWithMetadata(w, h int) []byte {
	exif := append(tiffWithGPS(0), 'X') // odd length: padded
	if len(exif)%2 == 0 {
		exif = append(exif, 'Y')
	}
	b := riff(
		vp8x(vp8xEXIF|vp8xXMP, w, h),
		riffChunk("VP8L", vp8lSolid(w, h, webpColour)),
		riffChunk("EXIF", exif),
		riffChunk("XMP ", []byte(xmpPacket)),
	)
	return append(b, "TRAILINGXMP"...)
}

// webpChunks lists the FourCCs of a WebP's chunks.
func webpChunks(t *testing.T, b []byte) []string {
	t.Helper()
	var out []string
	for i := 12; i+8 <= len(b); {
		n := int(binary.LittleEndian.Uint32(b[i+4:]))
		out = append(out, string(b[i:i+4]))
		i += 8 + n + n%2
	}
	return out
}

// gifWithMetadata returns enc with a comment extension and an XMP
// application extension after the global colour table and another comment
// before the trailer, and junk after the trailer.
func gifWithMetadata(enc []byte) []byte {
	start := 13
	if enc[10]&0x80 != 0 {
		start += 3 << (1 + enc[10]&7)
	}
	comment := []byte{0x21, 0xFE, 13}
	comment = append(comment, "shot at home!"...)
	comment = append(comment, 0)
	xmp := []byte{0x21, 0xFF, 11}
	xmp = append(xmp, "XMP DataXMP"...)
	xmp = append(xmp, 20)
	xmp = append(xmp, "GPSLatitude=48,51.24"...)
	xmp = append(xmp, 0)
	var b []byte
	b = append(b, enc[:start]...)
	b = append(b, comment...)
	b = append(b, xmp...)
	b = append(b, enc[start:len(enc)-1]...)
	b = append(b, comment...)
	b = append(b, 0x3B)
	return append(b, "TRAILINGGIF"...)
}
