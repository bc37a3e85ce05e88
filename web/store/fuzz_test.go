package store

import (
	"encoding/json"
	"testing"
)

// FuzzLoadManifest: the loader never panics, and what it accepts is valid and survives a
// round trip.
func FuzzLoadManifest(f *testing.F) {
	f.Add([]byte(`{"format":1,"id":"p1","kind":"pianoroll","name":"Song","created":"2026-11-26T10:00:00Z","modified":"2026-11-26T10:00:00Z","version":3,"files":{"song.mid":{"size":4,"sha256":"` + hash([]byte("MThd")) + `"}}}`))
	f.Add([]byte(`{"format":1,"id":"../x","kind":"pianoroll","name":"x","version":1}`))
	f.Add([]byte(`{"format":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := LoadManifest(b)
		if err != nil {
			return
		}
		if m.Validate() != nil {
			t.Fatal("accepted an invalid manifest")
		}
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := LoadManifest(out); err != nil {
			t.Fatalf("re-load of %s: %v", out, err)
		}
	})
}
