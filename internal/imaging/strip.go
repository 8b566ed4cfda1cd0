package imaging

import (
	"bufio"
	"errors"
	"io"

	"github.com/parleychat/parley/internal/chat"
)

// StripMetadata returns a reader of r's bytes with the metadata that can
// identify a person or a place removed, for the inline image types (see
// Inline); any other contentType gets r back unchanged. It streams: memory
// stays bounded (a few kilobytes, at most one 64 KiB JPEG segment) whatever
// the size of the file, and the output is never longer than the input.
//
// What is removed:
//   - JPEG (ITU T.81, JFIF 1.02, Exif 2.3): APP1 segments (Exif, XMP),
//     APP2 segments other than ICC_PROFILE (MPF, FlashPix), APP3 to APP15
//     except APP14 "Adobe", COM segments, APP0 segments other than JFIF
//     (JFXX thumbnails), the thumbnail inside a JFIF APP0, and anything
//     after EOI (where MPF puts further images). APP0 JFIF, APP2
//     ICC_PROFILE and APP14 Adobe are kept: colours depend on them. The
//     Exif orientation is kept too, as a minimal APP1 Exif segment holding
//     only that tag, so that photos stay the right way up.
//   - PNG (PNG specification, third edition): the eXIf, tEXt, zTXt, iTXt
//     and tIME chunks, and anything after IEND.
//   - WebP (RIFF container): the EXIF and "XMP " chunks, and the EXIF and
//     XMP flags of the VP8X chunk. The RIFF size comes first in the file and
//     the metadata chunks come last, so a stream cannot shrink the file
//     without holding all of it: each such chunk becomes a RIFF filler chunk ("JUNK")
//     of the same size holding zero bytes, which WebP readers skip as an
//     unknown chunk, and the RIFF size stays right.
//   - GIF (GIF89a): comment extensions and application extensions other
//     than NETSCAPE2.0 and ANIMEXTS1.0 (which hold the loop count), and
//     anything after the trailer.
//
// A file that is not well formed gives, from Read, a *chat.Error with code
// chat.EINVALID ("not a valid PNG image", …); an error of r itself is
// returned as it is.
func StripMetadata(r io.Reader, contentType string) io.Reader {
	var step func(*stripper) error
	switch contentType {
	case typeJPEG:
		step = (*stripper).jpegStart
	case typePNG:
		step = (*stripper).pngStart
	case typeWebP:
		step = (*stripper).webpStart
	case typeGIF:
		step = (*stripper).gifStart
	default:
		return r
	}
	return &stripper{
		src:    &errReader{r: r},
		step:   step,
		format: formatName(contentType),
	}
}

// stripper is the streaming filter behind StripMetadata. Each call of step
// parses the next structural element of the file (a JPEG segment, a PNG
// chunk, …) and says what becomes of it: bytes to emit now (out), then a
// count of input bytes to pass through (copyN) or to drop (skipN). Read
// drains those before calling step again.
type stripper struct {
	src    *errReader
	in     *bufio.Reader
	step   func(*stripper) error
	format string

	out     []byte // pending output, drained before anything else
	scratch [64]byte
	copyN   int64
	skipN   int64
	zeroN   int64 // input bytes to replace with zeros (WebP metadata payloads)
	err     error

	// per-format state
	jpegSeg []byte // APP1 payload being examined for the orientation tag
	remain  int64  // WebP: bytes of the RIFF payload not yet parsed
}

// errReader records the first error of the underlying reader other than
// io.EOF, so that an I/O failure is not reported as a malformed file.
type errReader struct {
	r   io.Reader
	err error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.err == nil {
		e.err = err
	}
	return n, err
}

// errDone, returned by a step, ends the stream cleanly: Read returns
// io.EOF from then on.
var errDone = errors.New("imaging: end of image")

func (s *stripper) Read(p []byte) (int, error) {
	if s.in == nil {
		s.in = bufio.NewReaderSize(s.src, 32<<10)
	}
	for {
		if len(s.out) > 0 {
			n := copy(p, s.out)
			s.out = s.out[n:]
			return n, nil
		}
		if len(p) == 0 {
			return 0, nil
		}
		if s.copyN > 0 {
			q := p
			if int64(len(q)) > s.copyN {
				q = q[:s.copyN]
			}
			n, err := s.in.Read(q)
			s.copyN -= int64(n)
			if n > 0 {
				return n, nil
			}
			s.fail(err)
			return 0, s.err
		}
		if s.zeroN > 0 {
			q := p
			if int64(len(q)) > s.zeroN {
				q = q[:s.zeroN]
			}
			n, err := s.in.Read(q)
			clear(q[:n])
			s.zeroN -= int64(n)
			if n > 0 {
				return n, nil
			}
			s.fail(err)
			return 0, s.err
		}
		if s.skipN > 0 {
			n := int(min(s.skipN, 1<<30))
			d, err := s.in.Discard(n)
			s.skipN -= int64(d)
			if err != nil {
				s.fail(err)
				return 0, s.err
			}
			continue
		}
		if s.err != nil {
			return 0, s.err
		}
		if err := s.step(s); err != nil {
			s.fail(err)
		}
	}
}

// fail records err as the stream's final error: io.EOF when the file ended
// cleanly (errDone), the reader's own error when it failed, and otherwise
// EINVALID naming the format.
func (s *stripper) fail(err error) {
	if s.err != nil {
		return
	}
	switch {
	case s.src.err != nil:
		s.err = s.src.err
	case err == errDone:
		s.err = io.EOF
	default:
		var ce *chat.Error
		if errors.As(err, &ce) {
			s.err = ce
		} else {
			s.err = s.invalid()
		}
	}
	s.copyN, s.skipN, s.zeroN = 0, 0, 0
}

// invalid returns the EINVALID error for a malformed file of this format.
func (s *stripper) invalid() error {
	return invalidImage(s.format)
}

func invalidImage(format string) *chat.Error {
	return chat.Errorf(chat.EINVALID, "not a valid %s image", format)
}

// emit queues a copy of b (at most a few dozen bytes) as the next output.
func (s *stripper) emit(b ...byte) {
	s.out = append(s.scratch[:0], b...)
}

// readFull reads exactly len(p) bytes; a short file is malformed.
func (s *stripper) readFull(p []byte) error {
	_, err := io.ReadFull(s.in, p)
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func formatName(contentType string) string {
	switch contentType {
	case typePNG:
		return "PNG"
	case typeJPEG:
		return "JPEG"
	case typeGIF:
		return "GIF"
	case typeWebP:
		return "WebP"
	}
	return contentType
}
