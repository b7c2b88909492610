package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The pebble log keeps the materialized state, not the log itself. Keys:
//
//	"v"                            → pebbleFormat (format version)
//	'm' id(8 BE)                   → uvarint len(name) name definition
//	'r' id(8 BE) seq(8 BE)         → uvarint len(key) key record
//	'r' id(8 BE) ff×8 'c'          → counter(8 BE, int64) nextSeq(8 BE)
//
// Big-endian ids and positions make pebble's byte order the storage
// order: iterating a bucket's 'r' keys yields its records by Seq, with no
// sort. The counters are written with every put, so they sit right after
// the bucket's records, next to where inserts land: a flushed sstable
// then spans the tail of the buckets written to, not the whole keyspace
// from the metadata to the tail, and compactions rewrite only what
// overlaps that tail. (With the counters beside the definitions, every
// compaction from L0 rewrote the entire bucket.) Seq math.MaxUint64 is
// reserved for that layout.
const (
	prefixMeta   byte = 'm'
	prefixRecord byte = 'r'
	// prefixKV holds OpSetMeta entries: 'k' + name → value.
	prefixKV    byte = 'k'
	countersTag byte = 'c'

	metaKeyLen     = 1 + 8
	recordKeyLen   = 1 + 8 + 8
	countersKeyLen = recordKeyLen + 1
	countersLen    = 8 + 8

	// reservedSeq is the position part of the counters key.
	reservedSeq = math.MaxUint64
)

var (
	formatKey = []byte("v")
	// pebbleFormat names the key layout above; Open refuses any other.
	pebbleFormat = []byte("noex-storage/1")
)

var errCorrupt = errors.New("storage: corrupt entry")

func appendMetaKey(dst []byte, bucket uint64) []byte {
	dst = append(dst, prefixMeta)
	return binary.BigEndian.AppendUint64(dst, bucket)
}

func appendRecordKey(dst []byte, bucket, seq uint64) []byte {
	dst = append(dst, prefixRecord)
	dst = binary.BigEndian.AppendUint64(dst, bucket)
	return binary.BigEndian.AppendUint64(dst, seq)
}

func appendCountersKey(dst []byte, bucket uint64) []byte {
	return append(appendRecordKey(dst, bucket, reservedSeq), countersTag)
}

// appendBucketRange appends [start, end) covering every key that begins
// with prefix followed by bucket's 8 bytes (for the 'r' prefix: its
// records and its counters), and returns both as subslices.
func appendBucketRange(dst []byte, prefix byte, bucket uint64) (buf, start, end []byte) {
	n := len(dst)
	dst = append(dst, prefix)
	dst = binary.BigEndian.AppendUint64(dst, bucket)
	m := len(dst)
	dst = append(dst, dst[n:m]...)
	end = successor(dst[m:])
	return dst, dst[n:m:m], end
}

// appendRecordsRange appends [start, end) covering a bucket's records and
// not its counters.
func appendRecordsRange(dst []byte, bucket uint64) (buf, start, end []byte) {
	n := len(dst)
	dst = append(dst, prefixRecord)
	dst = binary.BigEndian.AppendUint64(dst, bucket)
	m := len(dst)
	dst = appendRecordKey(dst, bucket, reservedSeq)
	return dst, dst[n:m:m], dst[m:]
}

// successor turns p, in place, into the smallest key greater than every
// key with prefix p (p with its last non-0xff byte incremented, trailing
// 0xff bytes dropped). It never empties p: the prefix byte is < 0xff.
func successor(p []byte) []byte {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] != 0xff {
			p[i]++
			return p[:i+1]
		}
	}
	return p
}

func appendCounters(dst []byte, counter int64, nextSeq uint64) []byte {
	dst = binary.BigEndian.AppendUint64(dst, uint64(counter))
	return binary.BigEndian.AppendUint64(dst, nextSeq)
}

func decodeCounters(v []byte) (counter int64, nextSeq uint64, err error) {
	if len(v) != countersLen {
		return 0, 0, fmt.Errorf("%w: counters of %d bytes", errCorrupt, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), binary.BigEndian.Uint64(v[8:]), nil
}

// appendPair encodes two byte strings: a record's primary key and record.
func appendPair(dst, first, second []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(first)))
	dst = append(dst, first...)
	return append(dst, second...)
}

// appendPairString encodes a bucket's name and definition.
func appendPairString(dst []byte, first string, second []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(first)))
	dst = append(dst, first...)
	return append(dst, second...)
}

func decodePair(v []byte) (first, second []byte, err error) {
	n, w := binary.Uvarint(v)
	if w <= 0 || n > uint64(len(v)-w) {
		return nil, nil, fmt.Errorf("%w: bad length prefix", errCorrupt)
	}
	end := w + int(n)
	return v[w:end], v[end:], nil
}

// parseMetaKey reads a 'm' key; ok is false for any other shape.
func parseMetaKey(k []byte) (bucket uint64, ok bool) {
	if len(k) != metaKeyLen || k[0] != prefixMeta {
		return 0, false
	}
	return binary.BigEndian.Uint64(k[1:]), true
}

// parseRecordKey splits a record key; ok is false for any other shape,
// counters keys included.
func parseRecordKey(k []byte) (bucket, seq uint64, ok bool) {
	if len(k) != recordKeyLen || k[0] != prefixRecord {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(k[1:9]), binary.BigEndian.Uint64(k[9:]), true
}

func isCountersKey(k []byte) bool {
	return len(k) == countersKeyLen && k[0] == prefixRecord && k[countersKeyLen-1] == countersTag &&
		binary.BigEndian.Uint64(k[9:17]) == reservedSeq
}

// appendKVKey is the key of the OpSetMeta entry called name.
func appendKVKey(dst []byte, name string) []byte {
	dst = append(dst, prefixKV)
	return append(dst, name...)
}
