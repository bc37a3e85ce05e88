package pianoroll

// SpliceWindow replaces the notes of [from, from+w) by gen (the model's whole window, which
// holds the unmasked notes unchanged). Notes that start outside the window stay as they were;
// a note that starts inside and ran past the window's end keeps its full length.
func SpliceWindow(orig, gen []Note, from, w int) []Note {
	end := from + w
	var out []Note
	crossing := map[uint8]bool{} // pitches sounding into the window from before it
	long := map[[2]int]int{}     // (start, pitch) of notes running past the end → duration
	for _, n := range orig {
		if n.Start < from || n.Start >= end {
			out = append(out, n)
			if n.Start < from && n.End() > from {
				crossing[n.Pitch] = true
			}
			continue
		}
		if n.End() > end {
			long[[2]int{n.Start, int(n.Pitch)}] = n.Dur
		}
	}
	for _, n := range gen {
		if n.Start == from && crossing[n.Pitch] {
			continue // the tail of a note that began before the window
		}
		if d, ok := long[[2]int{n.Start, int(n.Pitch)}]; ok && n.End() == end {
			n.Dur = d
		}
		out = append(out, n)
	}
	return Normalize(out)
}
