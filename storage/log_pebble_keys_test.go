package storage

import (
	"bytes"
	"math"
	"testing"
)

func TestPebbleKeyOrder(t *testing.T) {
	t.Parallel()
	for _, id := range []uint64{0, 1, 255, 256, math.MaxUint64 - 1, math.MaxUint64} {
		var ordered [][]byte
		for _, seq := range []uint64{0, 1, 255, 256, 1 << 40, reservedSeq - 1} {
			ordered = append(ordered, appendRecordKey(nil, id, seq))
		}
		counters := appendCountersKey(nil, id)
		ordered = append(ordered, counters)
		for i := 1; i < len(ordered); i++ {
			if bytes.Compare(ordered[i-1], ordered[i]) >= 0 {
				t.Fatalf("bucket %d: key %x sorts before %x", id, ordered[i], ordered[i-1])
			}
		}
		if !isCountersKey(counters) {
			t.Fatalf("bucket %d: counters key %x not recognised", id, counters)
		}
		if _, _, ok := parseRecordKey(counters); ok {
			t.Fatalf("bucket %d: counters key parsed as a record", id)
		}

		_, start, end := appendRecordsRange(nil, id)
		for _, k := range ordered[:len(ordered)-1] {
			if bytes.Compare(k, start) < 0 || bytes.Compare(k, end) >= 0 {
				t.Fatalf("bucket %d: record key %x outside the records range [%x, %x)", id, k, start, end)
			}
		}
		if bytes.Compare(counters, end) < 0 {
			t.Fatalf("bucket %d: a clear would delete the counters", id)
		}

		_, start, end = appendBucketRange(nil, prefixRecord, id)
		for _, k := range ordered {
			if bytes.Compare(k, start) < 0 || bytes.Compare(k, end) >= 0 {
				t.Fatalf("bucket %d: key %x outside the bucket range [%x, %x)", id, k, start, end)
			}
		}
		if id < math.MaxUint64 {
			if next := appendRecordKey(nil, id+1, 0); bytes.Compare(next, end) < 0 {
				t.Fatalf("bucket %d: a drop would delete bucket %d's records", id, id+1)
			}
		}
	}
}
