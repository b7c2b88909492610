package wire

import "testing"

var (
	benchInbound Inbound
	benchFrame   []byte
)

func BenchmarkParseSmallRequest(b *testing.B) {
	payload := []byte(`{"id":7,"type":"store.get","bucket":"users","key":"u-1"}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		benchInbound = Parse(payload)
	}
	if benchInbound.Kind != KindRequest {
		b.Fatal(benchInbound.Err)
	}
}

func BenchmarkParsePong(b *testing.B) {
	payload := []byte(`{"type":"pong","timestamp":1735689630000}`)
	b.ReportAllocs()
	for b.Loop() {
		benchInbound = Parse(payload)
	}
	if benchInbound.Kind != KindPong {
		b.Fatal(benchInbound.Err)
	}
}

func BenchmarkEncodeResult(b *testing.B) {
	id := NumberID(7)
	data := map[string]any{"id": "u-1", "name": "Ann", "age": 42, "tags": []string{"a", "b"}}
	b.ReportAllocs()
	for b.Loop() {
		var err error
		benchFrame, err = EncodeResult(id, data)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeResultAbsent(b *testing.B) {
	id := NumberID(7)
	b.ReportAllocs()
	for b.Loop() {
		benchFrame, _ = EncodeResult(id, Absent)
	}
}

func BenchmarkEncodeError(b *testing.B) {
	id := NumberID(8)
	e := NewError(CodeBucketNotDefined, `Bucket "nope" is not defined`)
	b.ReportAllocs()
	for b.Loop() {
		benchFrame = EncodeError(id, e, true)
	}
}
