package store

// Stats is the store's statistics object (PROTOCOL.md §2.16).
type Stats struct {
	Name        string       `json:"name"`
	Buckets     NameList     `json:"buckets"`
	Records     CountsPer    `json:"records"`
	Indexes     CountsPer    `json:"indexes"`
	Queries     QueryCounts  `json:"queries"`
	Persistence EnabledFlag  `json:"persistence"`
	TTL         TTLStatsInfo `json:"ttl"`
}

// NameList is a count and the names.
type NameList struct {
	Count int      `json:"count"`
	Names []string `json:"names"`
}

// CountsPer is a total and a count per bucket.
type CountsPer struct {
	Total     int            `json:"total"`
	PerBucket map[string]int `json:"perBucket"`
}

// QueryCounts counts defined queries and their live subscriptions.
type QueryCounts struct {
	Defined             int `json:"defined"`
	ActiveSubscriptions int `json:"activeSubscriptions"`
}

// EnabledFlag is {"enabled": bool}.
type EnabledFlag struct {
	Enabled bool `json:"enabled"`
}

// TTLStatsInfo describes the expiry sweep.
type TTLStatsInfo struct {
	Enabled         bool  `json:"enabled"`
	CheckIntervalMs int64 `json:"checkIntervalMs"`
}

// Stats returns the store's statistics. include decides which buckets are
// listed (nil: all).
func (s *Store) Stats(include func(bucket string) bool) Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	now := s.now()
	st := Stats{
		Name:        s.name,
		Buckets:     NameList{Names: []string{}},
		Records:     CountsPer{PerBucket: map[string]int{}},
		Indexes:     CountsPer{PerBucket: map[string]int{}},
		Persistence: EnabledFlag{Enabled: s.persist},
		TTL:         TTLStatsInfo{Enabled: s.ttlTick > 0, CheckIntervalMs: max(s.ttlTick.Milliseconds(), 0)},
	}
	for _, name := range s.order {
		if include != nil && !include(name) {
			continue
		}
		b := s.buckets[name]
		n := b.size()
		if b.def.TTL > 0 {
			n = 0
			s.eachLive(nil, b, now, func(*entry) bool { n++; return true })
		}
		st.Buckets.Names = append(st.Buckets.Names, name)
		st.Records.PerBucket[name] = n
		st.Records.Total += n
		st.Indexes.PerBucket[name] = len(b.indexes)
		st.Indexes.Total += len(b.indexes)
	}
	st.Buckets.Count = len(st.Buckets.Names)
	return st
}

// BucketStats are one bucket's statistics (STORE.md §19).
type BucketStats struct {
	RecordCount          int      `json:"recordCount"`
	IndexCount           int      `json:"indexCount"`
	IndexNames           []string `json:"indexNames"`
	HasUniqueConstraints bool     `json:"hasUniqueConstraints"`
	AutoincrementCounter int64    `json:"autoincrementCounter"`
	EtsType              string   `json:"etsType"`
	HasTTL               bool     `json:"hasTtl"`
	HasMaxSize           bool     `json:"hasMaxSize"`
	MaxSize              int      `json:"maxSize,omitempty"`
}

// BucketStats returns one bucket's statistics.
func (s *Store) BucketStats(name string) (BucketStats, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	b, err := s.bucketLocked(name)
	if err != nil {
		return BucketStats{}, err
	}
	bs := BucketStats{
		RecordCount:          b.size(),
		IndexCount:           len(b.indexes),
		IndexNames:           []string{},
		AutoincrementCounter: b.counter,
		EtsType:              b.def.EtsType,
		HasTTL:               b.def.TTL > 0,
		HasMaxSize:           b.def.MaxSize > 0,
		MaxSize:              b.def.MaxSize,
	}
	for f, ix := range b.indexes {
		bs.IndexNames = append(bs.IndexNames, f)
		if ix.unique {
			bs.HasUniqueConstraints = true
		}
	}
	sortStrings(bs.IndexNames)
	return bs, nil
}

func sortStrings(a []string) {
	for i := 1; i < len(a); i++ {
		for j := i; j > 0 && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
