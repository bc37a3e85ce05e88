package corpus

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MMALib is where Debian's mma keeps its groove library.
const MMALib = "/usr/share/mma/lib"

// Grooves lists the 4/4 grooves defined in an mma library (DefGroove lines in *.mma files,
// under the Time in force there). 3/4 and 6/8 grooves are left out so that every bar of the
// rendered corpus is 16 steps, as bar masks expect.
func Grooves(lib string) ([]string, error) {
	files, err := filepath.Glob(filepath.Join(lib, "*", "*.mma"))
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no mma groove files under %s: install the Debian package mma (%v)", lib, err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		fh, err := os.Open(f)
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(fh)
		beats := "4"
		for sc.Scan() {
			fields := strings.Fields(strings.SplitN(sc.Text(), "//", 2)[0])
			if len(fields) < 2 {
				continue
			}
			switch strings.ToLower(fields[0]) {
			case "time":
				beats = strings.SplitN(fields[1], "/", 2)[0]
			case "defgroove":
				if beats == "4" {
					seen[fields[1]] = true
				}
			}
		}
		fh.Close()
	}
	out := make([]string, 0, len(seen))
	for g := range seen {
		out = append(out, g)
	}
	sort.Strings(out)
	return out, nil
}

// A progression is bars separated by "|", each bar one or two chords in roman numerals:
// upper case = major, lower case = minor, a "b" prefix flattens the root, a suffix is mma's
// chord quality (7, M7, 6, sus4, 9, dim, 7b5 ...; lower case numerals add the "m").
type progression struct {
	minor bool
	bars  string
}

var progressions = []progression{
	{false, "I | V | vi | IV"},
	{false, "I | vi | IV | V"},
	{false, "vi | IV | I | V"},
	{false, "I | IV | V | IV"},
	{false, "I | iii | IV | V"},
	{false, "I | vi | ii | V7"},
	{false, "I | I | IV | IV | V | V | I | I"},
	{false, "I | V | vi | iii | IV | I | IV | V"},
	{false, "ii7 | V7 | IM7 | IM7"},
	{false, "IM7 | vi7 | ii7 | V7"},
	{false, "vi7 | ii7 | V7 | IM7"},
	{false, "IM7 | IVM7 | iii7 vi7 | ii7 V7"},
	{false, "I IV | V I | vi ii | V7 I"},
	{false, "I | bVII | IV | I"},
	{false, "I6 | ii7 | iii7 | V7sus4 V7"},
	{false, "I vi | ii V | I vi | ii V | I I7 | IV iv | I V | I"},
	{false, "I7 | IV7 | I7 | I7 | IV7 | IV7 | I7 | I7 | V7 | IV7 | I7 | V7"},
	{false, "I | I7 | IV | iv | I | V7 | I | I"},
	{false, "IM7 | I6 | ii7 | V7 | iii7 | VI7 | ii7 | V7"},
	{false, "I | IV | I | V | I | IV | V | I"},
	{true, "i | VI | III | VII"},
	{true, "i | iv | v | i"},
	{true, "i | iv | V7 | i"},
	{true, "i | VII | VI | V7"},
	{true, "i | VI | iv | V"},
	{true, "i7 | iv7 | VII7 | IIIM7"},
	{true, "ii7b5 | V7 | i6 | i6"},
	{true, "i | i | iv | iv | i | VI | V7 | i"},
	{true, "i7 | iv7 | i7 | i7 | iv7 | iv7 | i7 | i7 | VI7 | V7 | i7 | V7"},
	{true, "i | III | VII | iv"},
}

var noteNames = []string{"C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B"}

var romans = []struct {
	name string
	semi int
}{{"vii", 11}, {"vi", 9}, {"iv", 5}, {"v", 7}, {"iii", 4}, {"ii", 2}, {"i", 0}}

// chord turns one roman-numeral token into an mma chord name in the key with tonic root
// (semitones above C); minor keys take their numerals from the natural minor scale.
func chord(tok string, root int, minor bool) (string, error) {
	flat := strings.HasPrefix(tok, "b")
	if flat {
		tok = tok[1:]
	}
	for _, r := range romans {
		if len(tok) < len(r.name) || !strings.EqualFold(tok[:len(r.name)], r.name) {
			continue
		}
		num, qual := tok[:len(r.name)], tok[len(r.name):]
		semi := r.semi
		if minor {
			// natural minor degrees; an upper-case V still gives the major dominant
			semi = []int{0, 2, 3, 5, 7, 8, 10}[map[int]int{0: 0, 2: 1, 4: 2, 5: 3, 7: 4, 9: 5, 11: 6}[r.semi]]
		}
		if flat {
			semi--
		}
		lower := num == strings.ToLower(num)
		if lower && !strings.HasPrefix(qual, "dim") {
			qual = "m" + qual
		}
		return noteNames[((root+semi)%12+12)%12] + qual, nil
	}
	return "", fmt.Errorf("bad chord token %q", tok)
}

// realize spells a progression's bars as mma chord lines.
func realize(p progression, root int) ([]string, error) {
	var lines []string
	for _, bar := range strings.Split(p.bars, "|") {
		toks := strings.Fields(bar)
		var names []string
		for _, t := range toks {
			c, err := chord(t, root, p.minor)
			if err != nil {
				return nil, err
			}
			names = append(names, c)
		}
		if len(names) == 2 {
			lines = append(lines, names[0]+" / "+names[1])
		} else {
			lines = append(lines, strings.Join(names, " "))
		}
	}
	return lines, nil
}

// ariaRhythms are melody patterns for mma's Aria track: {offset length volume; ...} per bar.
var ariaRhythms = []string{
	"{1 4 90; 2 8 80; 2.5 8 70; 3 2 85}",
	"{1 2 90; 3 4 80; 4 8 70; 4.5 8 75}",
	"{1 8 90 * 8}",
	"{1 4 90 * 4}",
	"{1 4. 90; 2.5 8 60; 3 2 70}",
	"{1 2 100; 3 2 90}",
	"{1 1 85}",
	"{1 8 90; 1.5 8 70; 2 4 80; 3 8 90; 3.5 8 70; 4 4 75}",
	"{1 4 90; 2 4 70; 3 4 85; 4 8 70; 4.5 8 65}",
	"{1 16 90 * 16}",
	"{1.5 8 80; 2.5 8 80; 3 4 90; 4 4 70}",
	"{1 4 90; 2 2 85; 4 4 70}",
}

var ariaScales = []string{"Chord", "Scale", "Scale", "Chord"}
var ariaDirections = []string{"r", "1", "1 -1", "rrr 1 rr -1 2 4 r", "1 1 -1 r", "2 -1", "-1"}

// MMASong writes a random song for mma: groove × key × chord progression (one or two
// progressions in a song form) × an Aria melody, with timing, volume and dropped-note variation,
// every pitched track voiced Piano1. The groove's family gives the song an intro, sections in
// its variations (Sus, Plus, 1, 2 ...), fills before some sections and an ending where the
// library has them. name describes the choices.
func MMASong(rng *rand.Rand, grooves []string) (name, text string, err error) {
	root := rng.IntN(12)
	a := progressions[rng.IntN(len(progressions))]
	b := a
	for tries := 0; tries < 10 && rng.IntN(2) == 0; tries++ {
		if c := progressions[rng.IntN(len(progressions))]; c.minor == a.minor {
			b = c
			break
		}
	}
	la, err := realize(a, root)
	if err != nil {
		return "", "", err
	}
	lb, err := realize(b, root)
	if err != nil {
		return "", "", err
	}
	forms := []string{"AAAA", "AABA", "ABAB", "AABB", "ABAC"}
	form := forms[rng.IntN(len(forms))]
	target := 32 + 8*rng.IntN(9) // 32..96 bars
	var bars []string
	for len(bars) < target {
		for _, s := range form {
			sec := la
			if s == 'B' {
				sec = lb
			} else if s == 'C' {
				sec = append(append([]string{}, la[:len(la)/2]...), lb[len(lb)/2:]...)
			}
			bars = append(bars, sec...)
		}
	}
	bars = bars[:target]
	tonic := noteNames[root]
	if a.minor {
		tonic += "m"
	}
	bars = append(bars, tonic, tonic) // end home
	base, plan := planGrooves(rng, grooves, len(bars))

	tempo := 70 + rng.IntN(101)
	// a groove change restores the groove's own track settings, so these follow every change
	var tracks strings.Builder
	tracks.WriteString("AllTracks Bass Chord Arpeggio Scale Walk Plectrum Voice Piano1\n")
	fmt.Fprintf(&tracks, "AllTracks Bass Chord Arpeggio Scale Walk Plectrum RVolume %d\n", 5+rng.IntN(20))
	fmt.Fprintf(&tracks, "AllTracks Bass Chord Arpeggio Scale Walk Plectrum RTime %d\n", rng.IntN(12))
	if rng.IntN(3) == 0 {
		fmt.Fprintf(&tracks, "AllTracks Bass Chord Arpeggio Scale Walk Plectrum RSkip %d\n", 5+rng.IntN(15))
	}
	var sb strings.Builder
	// RndSeed makes mma's own randomness (RTime, RSkip, SeqRnd...) repeatable
	fmt.Fprintf(&sb, "// generated by latentstudio corpus\nRndSeed %d\nTempo %d\n", rng.IntN(1<<30), tempo)
	if rng.IntN(5) > 0 { // most songs carry a melody
		seq := make([]string, 1+rng.IntN(4))
		for i := range seq {
			seq[i] = ariaRhythms[rng.IntN(len(ariaRhythms))]
		}
		fmt.Fprintf(&sb, "Begin Aria\n Voice Piano1\n Octave %d\n Range %.1f\n Direction %s\n ScaleType %s\n",
			5+rng.IntN(2), 1+rng.Float64()*1.5, ariaDirections[rng.IntN(len(ariaDirections))], ariaScales[rng.IntN(len(ariaScales))])
		fmt.Fprintf(&sb, " Sequence %s\n SeqRnd On\n RSkip %d\n RVolume %d\n RTime %d\n Articulate %d\nEnd\n",
			strings.Join(seq, " "), rng.IntN(25), 10+rng.IntN(20), rng.IntN(15), 70+rng.IntN(30))
	}
	for i, bar := range bars {
		if g := plan[i]; g != "" {
			fmt.Fprintf(&sb, "Groove %s\n%s", g, tracks.String())
		}
		fmt.Fprintf(&sb, "%d %s\n", i+1, bar)
	}
	name = fmt.Sprintf("mma/%s-%s%s-%d", base, noteNames[root], map[bool]string{true: "m", false: ""}[a.minor], tempo)
	return name, sb.String(), nil
}

// planGrooves picks a body groove and says which groove starts at which bar (plan[i] != ""):
// its family's intro for four bars, a variation at some 8-bar sections, a fill in the bar
// before some sections, its ending for the last two bars (each where the library has one).
func planGrooves(rng *rand.Rand, grooves []string, nbars int) (base string, plan []string) {
	special := func(g string) bool {
		l := strings.ToLower(g)
		return strings.Contains(l, "intro") || strings.Contains(l, "end") || strings.Contains(l, "fill") || strings.Contains(l, "break")
	}
	byLower := make(map[string]string, len(grooves))
	var body []string
	for _, g := range grooves {
		byLower[strings.ToLower(g)] = g
		if !special(g) {
			body = append(body, g)
		}
	}
	if len(body) == 0 {
		body = grooves
	}
	base = body[rng.IntN(len(body))]
	lb := strings.ToLower(base)
	var variants []string
	for _, g := range body {
		if strings.HasPrefix(strings.ToLower(g), lb) {
			variants = append(variants, g)
		}
	}
	intro, fill := byLower[lb+"intro"], byLower[lb+"fill"]
	end := byLower[lb+"end"]
	if end == "" {
		end = byLower[lb+"ending"]
	}
	plan = make([]string, nbars)
	plan[0] = base
	first := 0
	if intro != "" && nbars > 16 && rng.IntN(5) < 3 {
		plan[0], plan[4], first = intro, base, 4
	}
	current := base
	for s := first + 8; s < nbars-2; s += 8 {
		next := current
		if rng.IntN(100) < 35 {
			next = variants[rng.IntN(len(variants))]
		}
		if fill != "" && rng.IntN(5) < 2 {
			plan[s-1] = fill
			plan[s] = next // a fill lasts one bar
		} else if next != current {
			plan[s] = next
		}
		current = next
	}
	if end != "" && rng.IntN(10) < 7 {
		plan[nbars-2] = end
	}
	return base, plan
}
