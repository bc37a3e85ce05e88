package protocol

import (
	"reflect"
	"testing"
)

// FuzzDecodeRequest: the server's decoder never panics, and whatever it accepts survives an
// encode/decode round trip unchanged.
func FuzzDecodeRequest(f *testing.F) {
	f.Add([]byte(`{"type":"hello","seq":1,"body":{"version":1,"client":"web"}}`))
	f.Add([]byte(`{"type":"live","seq":2,"body":{"kind":"burn","params":{"ms":1}}}`))
	f.Add([]byte(`{"type":"job","seq":3,"body":{"kind":"burn","project":"p1"}}`))
	f.Add([]byte(`{"type":"cancel","seq":4,"body":{"job":"j1"}}`))
	f.Add([]byte(`{"type":"save","seq":5,"body":{"project":"p1","file":"song.mid","data":"TVRoZA=="}}`))
	f.Add([]byte(`{"type":"nope","seq":6}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		seq, m, err := DecodeRequest(b)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		out, err := Encode(seq, m)
		if err != nil {
			t.Fatalf("re-encode %#v: %v", m, err)
		}
		seq2, m2, err := DecodeRequest(out)
		if err != nil || seq2 != seq {
			t.Fatalf("decode of re-encoded %s: %v", out, err)
		}
		out2, _ := Encode(seq2, m2)
		if string(out) != string(out2) {
			t.Fatalf("not stable:\n%s\n%s", out, out2)
		}
	})
}

// FuzzDecodeFrame: the binary decoder never panics and round-trips what it accepts.
func FuzzDecodeFrame(f *testing.F) {
	ok, _ := EncodeFrame(Frame{Kind: KindTensor, Format: FormatF32, Seq: 7, Shape: []int{2}, Data: make([]byte, 8)})
	f.Add(ok)
	f.Add([]byte("LS\x01\x04\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00hello"))
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := DecodeFrame(b)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			return
		}
		out, err := EncodeFrame(fr)
		if err != nil {
			t.Fatalf("re-encode %v: %v", fr, err)
		}
		fr2, err := DecodeFrame(out)
		if err != nil || !reflect.DeepEqual(fr, fr2) {
			t.Fatalf("round trip: %v %v %v", fr, fr2, err)
		}
	})
}
