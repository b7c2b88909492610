package store

import (
	"encoding/json"
	"testing"
)

func checkDecodeAgrees(t *testing.T, in []byte) {
	t.Helper()
	var want any
	wantErr := json.Unmarshal(in, &want)
	got, err := decodeValue(in)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("%q: decodeValue err %v, encoding/json err %v", in, err, wantErr)
	}
	if err == nil && !DeepEqual(got, want) {
		t.Fatalf("%q: decodeValue %#v, encoding/json %#v", in, got, want)
	}
}

func TestDecodeValueAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"a":1,"b":[true,false,null],"c":{"d":"e"}}`, `-0`, `1e400`, `-1.5e-7`, `123456789012345678`,
		`"\u00e9\ud83d\ude00\ud800x\n\"\\\/"`, `"\ud800\ud800"`, "\"\xff\xfe\"", `[]`, `{}`, ` [ 1 , 2 ] `,
		`01`, `1.`, `.5`, `+1`, `[1,]`, `{"a":1,}`, `{"a" 1}`, `nul`, `"\x"`, "\"\x01\"", `{"a":1}x`, ``,
		`{"a":1,"a":2}`, `9007199254740993`, `0.1`, `1E2`, `-`,
	} {
		checkDecodeAgrees(t, []byte(in))
	}
}

func FuzzDecodeValue(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[true,null,"x\u00e9"]}`, `-0.5e3`, `"\ud83d\ude00"`, `[[[]]]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) { checkDecodeAgrees(t, in) })
}
