package imaging

import (
	"bufio"
	"encoding/binary"
)

// JPEG markers (ITU T.81 table B.1; APPn and COM as JFIF uses them).
const (
	mSOI   = 0xD8
	mEOI   = 0xD9
	mSOS   = 0xDA
	mRST0  = 0xD0
	mRST7  = 0xD7
	mTEM   = 0x01
	mAPP0  = 0xE0
	mAPP1  = 0xE1
	mAPP2  = 0xE2
	mAPP14 = 0xEE
	mAPP15 = 0xEF
	mCOM   = 0xFE
)

// Identifiers at the start of APPn payloads.
const (
	jfifID  = "JFIF\x00"
	exifID  = "Exif\x00\x00"
	iccID   = "ICC_PROFILE\x00"
	adobeID = "Adobe"
)

func (s *stripper) jpegStart() error {
	var b [2]byte
	if err := s.readFull(b[:]); err != nil {
		return err
	}
	if b[0] != 0xFF || b[1] != mSOI {
		return s.invalid()
	}
	s.emit(0xFF, mSOI)
	s.step = (*stripper).jpegSegment
	return nil
}

// jpegSegment reads the next marker between segments. Bytes other than
// 0xFF before a marker are dropped, as decoders skip them.
func (s *stripper) jpegSegment() error {
	c, err := s.in.ReadByte()
	if err != nil {
		return err
	}
	if c != 0xFF {
		return nil
	}
	for c == 0xFF {
		if c, err = s.in.ReadByte(); err != nil {
			return err
		}
	}
	return s.jpegMarker(c)
}

// jpegMarker handles marker m, whose 0xFF has been read.
func (s *stripper) jpegMarker(m byte) error {
	switch {
	case m == 0x00:
		return nil // a stray "\xff\x00" between segments: dropped
	case m == mSOI:
		return s.invalid()
	case m == mEOI:
		s.emit(0xFF, mEOI)
		s.step = (*stripper).done
		return nil
	case m == mTEM || (m >= mRST0 && m <= mRST7):
		s.emit(0xFF, m)
		s.step = (*stripper).jpegSegment
		return nil
	}
	var lb [2]byte
	if err := s.readFull(lb[:]); err != nil {
		return err
	}
	length := int(binary.BigEndian.Uint16(lb[:]))
	if length < 2 {
		return s.invalid()
	}
	n := length - 2
	s.step = (*stripper).jpegSegment
	keep := true
	switch {
	case m == mSOS:
		s.step = (*stripper).jpegScan
	case m == mAPP0:
		if !s.peekIs(jfifID, n) {
			keep = false // JFXX (a thumbnail of its own) and others
		} else if n > jfifLen {
			return s.jfifWithoutThumbnail(n)
		}
	case m == mAPP1:
		if s.peekIs(exifID, n) {
			return s.jpegExif(n)
		}
		keep = false
	case m == mAPP2:
		keep = s.peekIs(iccID, n)
	case m == mAPP14:
		keep = s.peekIs(adobeID, n)
	case m > mAPP2 && m <= mAPP15, m == mCOM:
		keep = false
	}
	if keep {
		s.emit(0xFF, m, lb[0], lb[1])
		s.copyN = int64(n)
	} else {
		s.skipN = int64(n)
	}
	return nil
}

// peekIs reports whether the next bytes, within a payload of n bytes, are id.
func (s *stripper) peekIs(id string, n int) bool {
	if n < len(id) {
		return false
	}
	b, _ := s.in.Peek(len(id))
	return string(b) == id
}

// jfifLen is the length of a JFIF APP0 payload without a thumbnail:
// identifier, version, units, densities, thumbnail width and height.
const jfifLen = 14

// jfifWithoutThumbnail passes a JFIF APP0 segment of n payload bytes with
// its embedded thumbnail (which may show what a crop removed) taken out.
func (s *stripper) jfifWithoutThumbnail(n int) error {
	var seg [4 + jfifLen]byte
	seg[0], seg[1], seg[2], seg[3] = 0xFF, mAPP0, 0, 2+jfifLen
	if err := s.readFull(seg[4:]); err != nil {
		return err
	}
	seg[4+12], seg[4+13] = 0, 0 // thumbnail 0×0
	s.emit(seg[:]...)
	s.skipN = int64(n - jfifLen)
	return nil
}

// jpegExif replaces an APP1 Exif segment of n payload bytes with a minimal
// one that holds only the orientation (Exif 2.3 tag 0x0112), when the
// segment had one other than 1 (upright); otherwise the segment is dropped.
func (s *stripper) jpegExif(n int) error {
	if cap(s.jpegSeg) < n {
		s.jpegSeg = make([]byte, 0xFFFF)
	}
	seg := s.jpegSeg[:n]
	if err := s.readFull(seg); err != nil {
		return err
	}
	o := exifOrientation(seg[len(exifID):])
	// The minimal segment is 36 bytes; it replaces one at least as long.
	if o > 1 && 4+n >= len(minimalExif) {
		s.out = append(s.scratch[:0], minimalExif...)
		s.out[len(minimalExif)-7] = byte(o)
	}
	return nil
}

// minimalExif is an APP1 Exif segment whose TIFF structure (big-endian)
// has one IFD with one entry: Orientation, SHORT, count 1; the value is
// its low byte at offset len-7.
const minimalExif = "\xff\xe1\x00\x22" +
	"Exif\x00\x00" +
	"MM\x00\x2a\x00\x00\x00\x08" +
	"\x00\x01" +
	"\x01\x12\x00\x03\x00\x00\x00\x01\x00\x01\x00\x00" +
	"\x00\x00\x00\x00"

// exifOrientation returns the Orientation (1 to 8) in IFD0 of a TIFF
// structure (the payload of an Exif segment after "Exif\0\0"), or 0 when
// there is none or the structure is malformed.
func exifOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var bo binary.ByteOrder
	switch string(t[:4]) {
	case "II*\x00":
		bo = binary.LittleEndian
	case "MM\x00*":
		bo = binary.BigEndian
	default:
		return 0
	}
	off := int64(bo.Uint32(t[4:8]))
	if off < 8 || off+2 > int64(len(t)) {
		return 0
	}
	count := int64(bo.Uint16(t[off:]))
	for i := int64(0); i < count; i++ {
		e := off + 2 + 12*i
		if e+12 > int64(len(t)) {
			return 0
		}
		if bo.Uint16(t[e:]) == 0x0112 && bo.Uint16(t[e+2:]) == 3 {
			v := int(bo.Uint16(t[e+8:]))
			if v >= 1 && v <= 8 {
				return v
			}
			return 0
		}
	}
	return 0
}

// jpegScan passes entropy-coded data through up to the next 0xFF.
func (s *stripper) jpegScan() error {
	b, err := s.in.ReadSlice(0xFF)
	switch err {
	case nil:
		s.out = b[:len(b)-1]
		s.step = (*stripper).jpegScanFF
		return nil
	case bufio.ErrBufferFull:
		s.out = b
		return nil
	}
	return err
}

// jpegScanFF looks at the byte after a 0xFF in entropy-coded data: a
// stuffed zero or a restart marker stay in the scan; fill bytes are
// dropped; any other marker ends the scan.
func (s *stripper) jpegScanFF() error {
	c, err := s.in.ReadByte()
	if err != nil {
		return err
	}
	switch {
	case c == 0xFF:
		return nil
	case c == 0x00 || (c >= mRST0 && c <= mRST7):
		s.emit(0xFF, c)
		s.step = (*stripper).jpegScan
		return nil
	}
	return s.jpegMarker(c)
}

// done ends the stream; whatever follows the end of the image is dropped.
func (s *stripper) done() error { return errDone }
