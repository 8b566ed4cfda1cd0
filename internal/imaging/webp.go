package imaging

import (
	"encoding/binary"
)

// WebP container (RIFF) constants: the VP8X flags of the extended format.
const (
	vp8xEXIF = 1 << 3
	vp8xXMP  = 1 << 2
)

// padFourCC names the chunk that takes the place of a metadata chunk: the
// RIFF filler chunk, unknown to WebP, which readers skip.
const padFourCC = "JUNK"

func (s *stripper) webpStart() error {
	var h [12]byte
	if err := s.readFull(h[:]); err != nil {
		return err
	}
	if string(h[:4]) != "RIFF" || string(h[8:12]) != "WEBP" {
		return s.invalid()
	}
	size := int64(binary.LittleEndian.Uint32(h[4:8]))
	if size < 4+8 {
		return s.invalid()
	}
	s.remain = size - 4
	s.emit(h[:]...)
	s.step = (*stripper).webpFirstChunk
	return nil
}

func (s *stripper) webpFirstChunk() error { return s.webpChunk(true) }

func (s *stripper) webpNextChunk() error { return s.webpChunk(false) }

// webpChunk reads the next chunk header (FourCC, little-endian size,
// payload padded to an even length). The first chunk must be VP8, VP8L or
// VP8X; the stream ends with the RIFF payload.
func (s *stripper) webpChunk(first bool) error {
	if s.remain == 0 {
		return errDone
	}
	if s.remain < 8 {
		return s.invalid()
	}
	var h [8 + 10]byte
	if err := s.readFull(h[:8]); err != nil {
		return err
	}
	fourCC := string(h[:4])
	size := int64(binary.LittleEndian.Uint32(h[4:8]))
	padded := size + size&1
	if padded > s.remain-8 && size == s.remain-8 {
		padded = size // the last chunk's padding byte may be missing
	}
	if padded > s.remain-8 {
		return s.invalid()
	}
	s.remain -= 8 + padded
	s.step = (*stripper).webpNextChunk
	switch {
	case first && fourCC == "VP8X":
		if size != 10 {
			return s.invalid()
		}
		if err := s.readFull(h[8:18]); err != nil {
			return err
		}
		h[8] &^= vp8xEXIF | vp8xXMP
		s.emit(h[:]...)
		return nil
	case first && fourCC != "VP8 " && fourCC != "VP8L":
		return s.invalid()
	case fourCC == "EXIF" || fourCC == "XMP ":
		copy(h[:4], padFourCC)
		s.emit(h[:8]...)
		s.zeroN = padded
		return nil
	}
	s.emit(h[:8]...)
	s.copyN = padded
	return nil
}
