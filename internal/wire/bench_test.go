package wire

import "testing"

var (
	benchInbound Inbound
	benchFrame   []byte
)

// parseBenchFrames are typical inbound frames: the store.get and
// store.insert requests of PROTOCOL.md, a heartbeat answer and a frame that
// fails §1.10 step 1.
var parseBenchFrames = []struct {
	name    string
	payload string
	kind    Kind
}{
	{"store.get", `{"id":7,"type":"store.get","bucket":"users","key":"u-1"}`, KindRequest},
	{"store.insert", `{"id":12,"type":"store.insert","bucket":"users","data":{"name":"Ann","email":"ann@example.com","age":42,"tags":["admin","ops"],"address":{"city":"Prague","zip":"110 00"},"active":true,"score":97.5}}`, KindRequest},
	{"pong", `{"type":"pong","timestamp":1735689630000}`, KindPong},
	{"invalid", `{"id":4,"type"`, KindInvalid},
}

func BenchmarkParse(b *testing.B) {
	for _, fr := range parseBenchFrames {
		b.Run(fr.name, func(b *testing.B) {
			payload := []byte(fr.payload)
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				benchInbound = Parse(payload)
			}
			if benchInbound.Kind != fr.kind {
				b.Fatalf("Kind %v, want %v (err %v)", benchInbound.Kind, fr.kind, benchInbound.Err)
			}
		})
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
