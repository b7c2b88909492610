package store

// Generated values (STORE.md §3.4) and the insert pipeline (§3.3).

import (
	"crypto/rand"
	"encoding/hex"
)

// NewUUID returns a random version-4 UUID, lowercase and hyphenated.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

// NewCUID returns the reference's "cuid": the letter c and 32 lowercase
// hexadecimal characters (16 random bytes). It is not a real CUID.
func NewCUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "c" + hex.EncodeToString(b[:])
}

// PrepareInsert runs steps 1–5 of the insert pipeline (STORE.md §3.3): copy
// the caller's data (deeply, so the stored record shares nothing with it),
// generate absent generated fields, apply defaults to fields still absent,
// set _version 1 and _createdAt = _updatedAt = now (caller values replaced,
// a caller _expiresAt kept), and validate. now is Unix milliseconds.
//
// Every call is an insert attempt and advances the autoincrement counter
// by one, whether or not an autoincrement field is absent or the record is
// valid: newCounter is counter+1 and is what the caller must store even
// when err is non-nil (failed inserts leave gaps, as in the reference).
// Key uniqueness, TTL stamping and eviction are the bucket's business.
// err is a *ValidationError.
func (d *BucketDef) PrepareInsert(data Record, counter int64, now int64) (rec Record, newCounter int64, err error) {
	newCounter = counter + 1
	rec = make(Record, len(data)+4)
	for k, v := range data {
		rec[k] = CloneValue(v)
	}
	for _, f := range d.Fields {
		if f.Def.Generated == "" {
			continue
		}
		if _, ok := rec[f.Name]; ok {
			continue // explicit values, null included, are kept
		}
		switch f.Def.Generated {
		case GeneratedUUID:
			rec[f.Name] = NewUUID()
		case GeneratedCUID:
			rec[f.Name] = NewCUID()
		case GeneratedAutoincrement:
			rec[f.Name] = float64(newCounter)
		case GeneratedTimestamp:
			rec[f.Name] = float64(now)
		}
	}
	for _, f := range d.Fields {
		if !f.Def.HasDefault {
			continue
		}
		if _, ok := rec[f.Name]; !ok {
			rec[f.Name] = CloneValue(f.Def.Default)
		}
	}
	rec[FieldVersion] = float64(1)
	rec[FieldCreatedAt] = float64(now)
	rec[FieldUpdatedAt] = float64(now)
	if issues := d.Validate(rec); issues != nil {
		return nil, newCounter, &ValidationError{Bucket: d.Name, Issues: issues}
	}
	return rec, newCounter, nil
}
