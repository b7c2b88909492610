package main

import (
	"github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are kept in HDR histograms (github.com/HdrHistogram/hdrhistogram-go):
// fixed memory whatever the number of samples, percentiles to three
// significant digits, and histograms from many connections merge without
// loss. The unit is the microsecond.

const (
	// histMaxMicros is the largest value a histogram tells apart (one
	// hour); longer ones are recorded as this.
	histMaxMicros = 3_600_000_000
	// histDigits is the precision: values are exact to 0.1 %.
	histDigits = 3
)

// newHist returns an empty histogram of microseconds (~190 KB).
func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, histMaxMicros, histDigits)
}

// recordMicros records one value, clamped to the histogram's range.
func recordMicros(h *hdrhistogram.Histogram, us int64) {
	_ = h.RecordValue(min(max(us, 0), histMaxMicros))
}

// summarize turns a histogram (which may be nil) into a Summary.
func summarize(h *hdrhistogram.Histogram) Summary {
	if h == nil || h.TotalCount() == 0 {
		return Summary{}
	}
	q := func(p float64) float64 { return float64(h.ValueAtQuantile(p)) / 1000 }
	return Summary{
		Count:  int(h.TotalCount()),
		MinMs:  float64(h.Min()) / 1000,
		MeanMs: h.Mean() / 1000,
		P50Ms:  q(50),
		P90Ms:  q(90),
		P99Ms:  q(99),
		P999:   q(99.9),
		MaxMs:  float64(h.Max()) / 1000,
	}
}
