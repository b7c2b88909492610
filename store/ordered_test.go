package store

import (
	"reflect"
	"testing"
)

// FuzzDecodeOrdered: the store decoder's ordered mode gives what the
// encoding/json tokenizer path gives, for every input both accept, and
// decodeOrdered fails exactly when that path fails.
func FuzzDecodeOrdered(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":{"d":[1,{"y":null,"x":true}],"c":"s"},"b":2}`, `{"g":7}`,
		`{"$or":[{"a":{"$gt":1}},{"b":"\u00e9\ud800"}]}`, `[1,"x",null]`, `{}`, ` {"a" : [ ] } `, `{"a":1}x`, `"s"`, `1e400`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		want, werr := decodeOrderedStd(raw)
		got, gerr := decodeOrdered(raw)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%q: error %v, std error %v", raw, gerr, werr)
		}
		if werr == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got %#v\nwant %#v", raw, got, want)
		}
	})
}
