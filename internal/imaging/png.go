package imaging

import (
	"encoding/binary"
)

// pngSignature starts every PNG file (PNG specification, 5.2).
const pngSignature = "\x89PNG\r\n\x1a\n"

func (s *stripper) pngStart() error {
	var b [8]byte
	if err := s.readFull(b[:]); err != nil {
		return err
	}
	if string(b[:]) != pngSignature {
		return s.invalid()
	}
	s.emit(b[:]...)
	s.step = (*stripper).pngFirstChunk
	return nil
}

func (s *stripper) pngFirstChunk() error { return s.pngChunk(true) }

func (s *stripper) pngNextChunk() error { return s.pngChunk(false) }

// pngChunk reads the next chunk's length and type (PNG specification, 5.3)
// and keeps or drops the chunk. The first chunk must be IHDR; IEND ends
// the stream.
func (s *stripper) pngChunk(first bool) error {
	var h [8]byte
	if err := s.readFull(h[:]); err != nil {
		return err
	}
	length := binary.BigEndian.Uint32(h[:4])
	if length > 1<<31-1 {
		return s.invalid()
	}
	typ := string(h[4:8])
	for _, c := range h[4:8] {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return s.invalid()
		}
	}
	if first && (typ != "IHDR" || length != 13) {
		return s.invalid()
	}
	s.step = (*stripper).pngNextChunk
	n := int64(length) + 4 // data and CRC
	if typ == "IEND" {
		s.step = (*stripper).done
	}
	// A known list of what to keep, not of what to drop: metadata comes
	// in chunks no list of them foresees (an "exIf" of old ImageMagick,
	// a camera's private chunk). An unknown ancillary chunk (lower-case
	// first letter, PNG specification 5.4) is dropped; an unknown
	// critical one cannot be decoded anyway.
	if !pngKept(typ) && typ[0] >= 'a' && typ[0] <= 'z' {
		s.skipN = n
		return nil
	}
	s.emit(h[:]...)
	s.copyN = n
	return nil
}

// pngKept reports whether a stripped PNG keeps a chunk: the critical
// ones, and the ancillary ones that say how to show the pixels
// (transparency, colour, gamma, pixel size, background) or animate them
// (APNG). Text, time and EXIF chunks go, as does any other.
func pngKept(typ string) bool {
	switch typ {
	case "IHDR", "PLTE", "IDAT", "IEND",
		"tRNS", "cHRM", "gAMA", "iCCP", "sBIT", "sRGB", "cICP", "mDCV", "cLLI",
		"bKGD", "pHYs", "sPLT",
		"acTL", "fcTL", "fdAT":
		return true
	}
	return false
}
