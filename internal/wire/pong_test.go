package wire

import "testing"

func TestFastPong(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
		ts float64
	}{
		{`{"type":"pong","timestamp":1735689630000}`, true, 1735689630000},
		{` { "timestamp" : 12.5 , "type" : "pong" } `, true, 12.5},
		{`{"type":"pong","timestamp":-0}`, true, 0},
		{`{"type":"pong","timestamp":1e3}`, true, 1000},
		{`{"type":"pong","timestamp":1e400}`, false, 0},
		{`{"type":"pong","timestamp":01}`, false, 0},
		{`{"type":"pong","timestamp":"1"}`, false, 0},
		{`{"type":"pong"}`, false, 0},
		{`{"type":"pong","timestamp":1,"id":3}`, false, 0},
		{`{"type":"pong","type":"pong"}`, false, 0},
		{`{"type":"p\u006fng","timestamp":1}`, false, 0},
		{`{"type":"ping","timestamp":1}`, false, 0},
		{`{"type":"pong","timestamp":1}x`, false, 0},
		{`{"type":"pong","timestamp":1.}`, false, 0},
		{`[]`, false, 0},
	} {
		ts, ok := FastPong([]byte(tc.in))
		if ok != tc.ok || ts != tc.ts {
			t.Errorf("FastPong(%s) = %v %v, want %v %v", tc.in, ts, ok, tc.ts, tc.ok)
		}
		if ok {
			// The full parser must agree.
			in := Parse([]byte(tc.in))
			if in.Kind != KindPong || in.Timestamp != ts {
				t.Errorf("Parse(%s) = %+v, FastPong accepted it", tc.in, in)
			}
		}
	}
}

// FuzzFastPong checks that whatever FastPong accepts, Parse reads as the
// same pong.
func FuzzFastPong(f *testing.F) {
	for _, s := range []string{`{"type":"pong","timestamp":1}`, `{"timestamp":-1.5e-3,"type":"pong"}`, `{"type":"pong","timestamp":0}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		ts, ok := FastPong(p)
		if !ok {
			return
		}
		in := Parse(p)
		if in.Kind != KindPong || in.Timestamp != ts {
			t.Fatalf("FastPong accepted %q as %v, Parse says %+v", p, ts, in)
		}
	})
}
