package imaging

// GIF89a block introducers and extension labels.
const (
	gifExtension   = 0x21
	gifImage       = 0x2C
	gifTrailer     = 0x3B
	gifComment     = 0xFE
	gifApplication = 0xFF
)

func (s *stripper) gifStart() error {
	var h [13]byte // header and logical screen descriptor
	if err := s.readFull(h[:]); err != nil {
		return err
	}
	if v := string(h[:6]); v != "GIF87a" && v != "GIF89a" {
		return s.invalid()
	}
	s.emit(h[:]...)
	if flags := h[10]; flags&0x80 != 0 {
		s.copyN = 3 << (1 + flags&7) // global colour table
	}
	s.step = (*stripper).gifBlock
	return nil
}

// gifBlock reads the next block: an image, an extension or the trailer.
func (s *stripper) gifBlock() error {
	c, err := s.in.ReadByte()
	if err != nil {
		return err
	}
	switch c {
	case gifTrailer:
		s.emit(c)
		s.step = (*stripper).done
		return nil
	case gifImage:
		var d [10]byte
		d[0] = c
		if err := s.readFull(d[1:]); err != nil {
			return err
		}
		s.emit(d[:]...)
		if flags := d[9]; flags&0x80 != 0 {
			s.copyN = 3 << (1 + flags&7) // local colour table
		}
		s.step = (*stripper).gifLZW
		return nil
	case gifExtension:
		label, err := s.in.ReadByte()
		if err != nil {
			return err
		}
		keep := true
		switch label {
		case gifComment:
			keep = false
		case gifApplication:
			// The first sub-block is the 11-byte identifier and code.
			id, _ := s.in.Peek(12)
			keep = len(id) == 12 && id[0] == 11 &&
				(string(id[1:]) == "NETSCAPE2.0" || string(id[1:]) == "ANIMEXTS1.0")
		}
		if keep {
			s.emit(c, label)
			s.step = (*stripper).gifKeepSub
		} else {
			s.step = (*stripper).gifDropSub
		}
		return nil
	}
	return s.invalid()
}

// gifLZW passes the LZW minimum code size that starts image data.
func (s *stripper) gifLZW() error {
	c, err := s.in.ReadByte()
	if err != nil {
		return err
	}
	s.emit(c)
	s.step = (*stripper).gifKeepSub
	return nil
}

func (s *stripper) gifKeepSub() error { return s.gifSubBlock(true) }

func (s *stripper) gifDropSub() error { return s.gifSubBlock(false) }

// gifSubBlock passes or drops one data sub-block (a size byte, then that
// many bytes); the empty block terminator ends the sequence.
func (s *stripper) gifSubBlock(keep bool) error {
	n, err := s.in.ReadByte()
	if err != nil {
		return err
	}
	if keep {
		s.emit(n)
		s.copyN = int64(n)
	} else {
		s.skipN = int64(n)
	}
	if n == 0 {
		s.step = (*stripper).gifBlock
	}
	return nil
}
