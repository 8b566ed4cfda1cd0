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
	switch typ {
	case "eXIf", "tEXt", "zTXt", "iTXt", "tIME":
		s.skipN = n
		return nil
	case "IEND":
		s.step = (*stripper).done
	}
	s.emit(h[:]...)
	s.copyN = n
	return nil
}
