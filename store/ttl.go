package store

import (
	"time"
)

// sweepLoop removes expired records every TTLCheckInterval. A slow sweep
// delays the next one rather than overlapping it.
func (s *Store) sweepLoop() {
	defer s.bg.Done()
	t := time.NewTimer(s.ttlTick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if _, err := s.PurgeExpired(); err != nil && err != ErrClosed {
				s.logger.Error("TTL sweep failed", "err", err)
			}
			t.Reset(s.ttlTick)
		}
	}
}

// PurgeExpired removes every expired record of every TTL bucket now, as one
// change set, and returns how many it removed. Each removal publishes a
// deleted event.
func (s *Store) PurgeExpired() (int, error) {
	removed := 0
	err := s.commit(func() (*pending, error) {
		now := s.now()
		p := newPending()
		for _, name := range s.order {
			b := s.buckets[name]
			if b.def.TTL <= 0 {
				continue
			}
			var expired []*entry
			b.each(func(e *entry) bool {
				if isExpired(b, e, now) {
					expired = append(expired, e)
				}
				return true
			})
			for _, e := range expired {
				if err := p.stageDelete(b, e); err != nil {
					return nil, err
				}
			}
			removed += len(expired)
		}
		return p, nil
	})
	return removed, err
}
