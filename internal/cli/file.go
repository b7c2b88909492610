package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// FileError is a config file that cannot be read or is not a JSON object.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// readConfigFile reads a JSON object. Numbers stay json.Number so that
// validation sees them exactly as written.
func readConfigFile(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &FileError{Path: path, Err: err}
	}
	fail := func(format string, args ...any) (map[string]any, error) {
		return nil, &FileError{Path: path, Err: fmt.Errorf("%s: "+format, append([]any{path}, args...)...)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		var syn *json.SyntaxError
		switch {
		case errors.Is(err, io.EOF):
			return fail("the file is empty")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return fail("unexpected end of JSON input")
		case errors.As(err, &syn):
			line, col := position(data, syn.Offset)
			return fail("%v (line %d, column %d)", err, line, col)
		}
		return fail("%v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		line, col := position(data, dec.InputOffset())
		return fail("unexpected data after the JSON value (line %d, column %d)", line, col)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return fail("the configuration must be a JSON object")
	}
	return obj, nil
}

// position turns a byte offset into a 1-based line and column.
func position(data []byte, offset int64) (line, col int) {
	if offset > int64(len(data)) {
		offset = int64(len(data))
	}
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	if col == 0 {
		col = 1
	}
	return line, col
}

// fileValues picks the known keys out of a config file. Unknown keys are
// ignored and null counts as absent, as in the reference. A member of an
// object ("heartbeat.intervalMs") is taken only when the object is one;
// otherwise the object's own row reports it.
func fileValues(doc map[string]any) map[*setting]value {
	out := make(map[*setting]value)
	for i := range keys {
		st := &keys[i]
		if st.key == "" {
			continue
		}
		if raw, ok := lookupPath(doc, strings.Split(st.key, ".")); ok && raw != nil {
			out[st] = value{src: fromFile, name: st.key, json: raw}
		}
	}
	return out
}

// lookupPath descends through nested objects.
func lookupPath(obj map[string]any, path []string) (any, bool) {
	for len(path) > 1 {
		inner, ok := obj[path[0]].(map[string]any)
		if !ok {
			return nil, false
		}
		obj, path = inner, path[1:]
	}
	raw, ok := obj[path[0]]
	return raw, ok
}
