package pianoroll

import (
	"encoding/binary"
	"fmt"
)

// canonical rewrites a file whose chunks scan found whole into a form the gomidi parser
// reads safely: only the MThd and MTrk chunks, every event with its own status byte (running
// status resolved per track, as the SMF spec has it), every length checked against its chunk,
// each track ending in exactly one End of Track. gomidi reads events as one stream and trusts
// their lengths (a hostile length made it allocate gigabytes), so it never sees raw input.
func canonical(data []byte, h header) ([]byte, error) {
	hlen := int(binary.BigEndian.Uint32(data[4:8]))
	out := make([]byte, 0, len(data)+16*h.tracks)
	out = append(out, "MThd\x00\x00\x00\x06"...)
	out = append(out, data[8:14]...)
	pos, found := 8+hlen, 0
	for found < h.tracks {
		n := int(binary.BigEndian.Uint32(data[pos+4 : pos+8]))
		kind, body := string(data[pos:pos+4]), data[pos+8:pos+8+n]
		pos += 8 + n
		if kind != "MTrk" {
			continue
		}
		found++
		start := len(out)
		out = append(out, "MTrk\x00\x00\x00\x00"...)
		var err error
		if out, err = canonicalTrack(out, body); err != nil {
			return nil, fmt.Errorf("%w: track %d: %v", ErrCorrupt, found, err)
		}
		binary.BigEndian.PutUint32(out[start+4:], uint32(len(out)-start-8))
	}
	return out, nil
}

func canonicalTrack(out, b []byte) ([]byte, error) {
	pos := 0
	varlen := func() (int, error) {
		v := 0
		for i := 0; i < 4; i++ {
			if pos >= len(b) {
				return 0, fmt.Errorf("number cut at byte %d", pos)
			}
			c := b[pos]
			pos++
			v = v<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				return v, nil
			}
		}
		return 0, fmt.Errorf("number longer than 4 bytes at byte %d", pos)
	}
	putVar := func(v int) {
		var tmp [5]byte
		i := len(tmp) - 1
		tmp[i] = byte(v & 0x7f)
		for v >>= 7; v > 0; v >>= 7 {
			i--
			tmp[i] = byte(v&0x7f) | 0x80
		}
		out = append(out, tmp[i:]...)
	}
	var status byte
	for pos < len(b) {
		delta, err := varlen()
		if err != nil {
			break // a dangling delta at the end of a track: the track ends there
		}
		if pos >= len(b) {
			break
		}
		c := b[pos]
		switch {
		case c == 0xff:
			if pos+2 > len(b) {
				return nil, fmt.Errorf("meta event cut at byte %d", pos)
			}
			typ := b[pos+1]
			pos += 2
			n, err := varlen()
			if err != nil {
				return nil, err
			}
			if n > len(b)-pos {
				return nil, fmt.Errorf("meta event of %d bytes, %d left", n, len(b)-pos)
			}
			status = 0
			if typ == 0x2f {
				putVar(delta)
				return append(out, 0xff, 0x2f, 0), nil
			}
			putVar(delta)
			out = append(out, 0xff, typ)
			putVar(n)
			out = append(out, b[pos:pos+n]...)
			pos += n
		case c == 0xf0 || c == 0xf7:
			pos++
			n, err := varlen()
			if err != nil {
				return nil, err
			}
			if n > len(b)-pos {
				return nil, fmt.Errorf("sysex of %d bytes, %d left", n, len(b)-pos)
			}
			status = 0
			putVar(delta)
			out = append(out, c)
			putVar(n)
			out = append(out, b[pos:pos+n]...)
			pos += n
		case c >= 0xf1:
			return nil, fmt.Errorf("status %#02x is not allowed in a MIDI file (byte %d)", c, pos)
		default:
			if c >= 0x80 {
				status = c
				pos++
			} else if status == 0 {
				return nil, fmt.Errorf("data byte %#02x without a status (byte %d)", c, pos)
			}
			need := 2
			if s := status & 0xf0; s == 0xc0 || s == 0xd0 {
				need = 1
			}
			if pos+need > len(b) {
				return nil, fmt.Errorf("channel message cut at byte %d", pos)
			}
			for _, d := range b[pos : pos+need] {
				if d >= 0x80 {
					return nil, fmt.Errorf("data byte %#02x at byte %d", d, pos)
				}
			}
			putVar(delta)
			out = append(out, status)
			out = append(out, b[pos:pos+need]...)
			pos += need
		}
	}
	return append(out, 0, 0xff, 0x2f, 0), nil // no End of Track: add one
}
