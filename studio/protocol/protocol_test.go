package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTripRequests(t *testing.T) {
	msgs := []Message{
		Hello{Version: Version, Client: "test", Resume: "s-1"},
		Live{Kind: "roll.inpaint", Params: json.RawMessage(`{"x":1}`)},
		Job{Kind: "burn", Params: json.RawMessage(`{"ms":5}`), Project: "p1"},
		Cancel{Job: "j7"},
		Status{},
		Save{Project: "abc", File: "song.mid", Data: []byte{0, 1, 2, 255}},
	}
	for i, m := range msgs {
		b, err := Encode(uint64(i+1), m)
		if err != nil {
			t.Fatalf("encode %T: %v", m, err)
		}
		seq, got, err := DecodeRequest(b)
		if err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if seq != uint64(i+1) || !reflect.DeepEqual(got, m) {
			t.Errorf("round trip %T: got seq %d %#v, want %#v", m, seq, got, m)
		}
	}
}

func TestRoundTripReplies(t *testing.T) {
	msgs := []Message{
		Welcome{Version: 1, Session: "s1", Engine: EngineInfo{Backend: "cpu", Threads: 2}, Jobs: []JobState{{ID: "j1", State: JobRunning, Percent: 40}}},
		Result{Kind: "k", Data: json.RawMessage(`{"a":true}`), Frame: true, MS: 1.5},
		Queued{Job: "j1", Position: 2},
		Progress{Job: "j1", Percent: 50, Stage: "denoise", ETAms: 300},
		Done{Job: "j1", Data: json.RawMessage(`{}`)},
		Cancelled{Job: "j1", Reason: "disconnect"},
		Saved{Project: "p", Version: 3},
		StatusReply{Engine: EngineInfo{Backend: "cpu"}},
	}
	for _, m := range msgs {
		b, err := Encode(9, m)
		if err != nil {
			t.Fatal(err)
		}
		seq, got, err := DecodeReply(b)
		if err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
		if seq != 9 || !reflect.DeepEqual(got, m) {
			t.Errorf("round trip %T: got %#v", m, got)
		}
	}
	b, _ := Encode(4, Errorf(Busy, "queue full"))
	seq, got, err := DecodeReply(b)
	if err != nil || seq != 4 {
		t.Fatal(err, seq)
	}
	if e, ok := got.(*Error); !ok || e.Code != Busy || e.Message != "queue full" {
		t.Fatalf("error frame decoded as %#v", got)
	}
}

func TestDecodeErrorsAreTyped(t *testing.T) {
	cases := []struct {
		in      string
		code    Code
		wantSeq uint64
	}{
		{`{"type":"live","seq":3,`, BadInput, 0},
		{`[1,2]`, BadInput, 0},
		{`{"type":"teleport","seq":5}`, UnknownType, 5},
		{`{"seq":5}`, BadInput, 5},
		{`{"type":"live","seq":0,"body":{"kind":"a"}}`, BadInput, 0},
		{`{"type":"live","seq":6,"body":{"kind":"../etc"}}`, BadInput, 6},
		{`{"type":"live","seq":6,"body":{"kind":"a","params":[1]}}`, BadInput, 6},
		{`{"type":"live","seq":6,"body":"x"}`, BadInput, 6},
		{`{"type":"hello","seq":1,"body":{}}`, BadInput, 1},
		{`{"type":"save","seq":2,"body":{"project":"../x","file":"a"}}`, BadInput, 2},
		{`{"type":"save","seq":2,"body":{"project":"x","file":"../a"}}`, BadInput, 2},
		{`{"type":"welcome","seq":2,"body":{"version":1,"session":"s"}}`, UnknownType, 2},
		{`{"type":"live","seq":1,"body":{"kind":"a","params":{"x":"` + strings.Repeat("y", MaxParams) + `"}}}`, TooLarge, 1},
		{strings.Repeat(" ", MaxTextFrame+1), TooLarge, 0},
	}
	for _, c := range cases {
		seq, _, err := DecodeRequest([]byte(c.in))
		if err == nil {
			t.Errorf("%.60s: no error", c.in)
			continue
		}
		if CodeOf(err) != c.code || seq != c.wantSeq {
			t.Errorf("%.60s: got %v seq %d, want %s seq %d", c.in, err, seq, c.code, c.wantSeq)
		}
		if !errors.Is(err, &Error{Code: c.code}) {
			t.Errorf("errors.Is does not match code %s", c.code)
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	f := Frame{Kind: KindPianoRoll, Format: FormatF32, Seq: 1 << 40, Shape: []int{3, 2, 2}, Data: make([]byte, 3*2*2*4)}
	for i := range f.Data {
		f.Data[i] = byte(i)
	}
	b, err := EncodeFrame(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 16+12+48 {
		t.Fatalf("frame length %d", len(b))
	}
	g, err := DecodeFrame(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f, g) {
		t.Fatalf("got %v want %v", g, f)
	}
}

func TestFrameErrors(t *testing.T) {
	good, _ := EncodeFrame(Frame{Kind: KindImage, Format: FormatU8, Seq: 1, Shape: []int{2, 2}, Data: []byte{1, 2, 3, 4}})
	mut := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := map[string]struct {
		b    []byte
		code Code
	}{
		"short":         {good[:5], BadInput},
		"magic":         {mut(func(b []byte) []byte { b[0] = 'X'; return b }), BadInput},
		"version":       {mut(func(b []byte) []byte { b[2] = 9; return b }), VersionCode},
		"kind":          {mut(func(b []byte) []byte { b[3] = 0; return b }), BadInput},
		"format":        {mut(func(b []byte) []byte { b[4] = 77; return b }), BadInput},
		"ndim":          {mut(func(b []byte) []byte { b[5] = 9; return b }), BadInput},
		"reserved":      {mut(func(b []byte) []byte { b[6] = 1; return b }), BadInput},
		"payload short": {good[:len(good)-1], BadInput},
		"payload long":  {append(bytes.Clone(good), 0), BadInput},
		"huge dims":     {mut(func(b []byte) []byte { b[16], b[17], b[18], b[19] = 255, 255, 255, 127; return b }), BadInput},
		"oversized":     {make([]byte, MaxBinaryFrame+1), TooLarge},
		"not png":       {mut(func(b []byte) []byte { b[4] = byte(FormatPNG); return b }), BadInput},
	}
	for name, c := range cases {
		_, err := DecodeFrame(c.b)
		if CodeOf(err) != c.code {
			t.Errorf("%s: got %v, want %s", name, err, c.code)
		}
	}
}

func BenchmarkDecodeLive(b *testing.B) {
	msg, _ := Encode(42, Live{Kind: "roll.inpaint", Params: json.RawMessage(`{"mask":[0,1,2,3,4,5,6,7],"strength":0.5}`)})
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if _, _, err := DecodeRequest(msg); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFrameRoundTrip(b *testing.B) {
	f := Frame{Kind: KindPianoRoll, Format: FormatF32, Seq: 1, Shape: []int{3, 128, 512}, Data: make([]byte, 3*128*512*4)}
	buf := make([]byte, 0, 16+12+len(f.Data))
	b.SetBytes(int64(len(f.Data)))
	for b.Loop() {
		out, _ := AppendFrame(buf[:0], f)
		if _, err := DecodeFrame(out); err != nil {
			b.Fatal(err)
		}
	}
}
