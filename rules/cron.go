package rules

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// cronSpec is a parsed cron expression (RULES.md §14): five fields
// (minute hour day-of-month month day-of-week) or six with a leading
// seconds field, each a list of "*", "?", n, a-b, with optional "/step";
// month and weekday names; 7 is Sunday too; @yearly, @monthly, @weekly,
// @daily, @hourly. When both day fields are restricted a day matching
// either one matches, as in Vixie cron.
type cronSpec struct {
	second, minute, hour, dom, month, dow uint64
	domStar, dowStar                      bool
}

type cronField struct {
	min, max int
	names    map[string]int
}

var (
	cronSeconds = cronField{0, 59, nil}
	cronMinutes = cronField{0, 59, nil}
	cronHours   = cronField{0, 23, nil}
	cronDom     = cronField{1, 31, nil}
	cronMonths  = cronField{1, 12, map[string]int{
		"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
		"jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}}
	cronDow = cronField{0, 7, map[string]int{
		"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}}
)

var cronMacros = map[string]string{
	"@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *",
	"@weekly": "0 0 * * 0", "@daily": "0 0 * * *", "@midnight": "0 0 * * *",
	"@hourly": "0 * * * *",
}

func parseCron(expr string) (*cronSpec, error) {
	s := strings.TrimSpace(expr)
	if m, ok := cronMacros[strings.ToLower(s)]; ok {
		s = m
	}
	fields := strings.Fields(s)
	if len(fields) == 5 {
		fields = append([]string{"0"}, fields...)
	}
	if len(fields) != 6 {
		return nil, fmt.Errorf("Invalid cron expression: %s", expr)
	}
	var c cronSpec
	var err error
	parse := func(dst *uint64, text string, f cronField) bool {
		if err != nil {
			return false
		}
		var star bool
		*dst, star, err = parseCronField(text, f)
		if err != nil {
			err = fmt.Errorf("Invalid cron expression: %s", expr)
		}
		return star
	}
	parse(&c.second, fields[0], cronSeconds)
	parse(&c.minute, fields[1], cronMinutes)
	parse(&c.hour, fields[2], cronHours)
	c.domStar = parse(&c.dom, fields[3], cronDom)
	parse(&c.month, fields[4], cronMonths)
	c.dowStar = parse(&c.dow, fields[5], cronDow)
	if err != nil {
		return nil, err
	}
	if c.dow&(1<<7) != 0 { // 7 is Sunday
		c.dow |= 1
	}
	return &c, nil
}

func parseCronField(text string, f cronField) (bits uint64, star bool, err error) {
	for _, part := range strings.Split(text, ",") {
		rng, stepText, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			step, err = strconv.Atoi(stepText)
			if err != nil || step <= 0 {
				return 0, false, fmt.Errorf("bad step %q", part)
			}
		}
		lo, hi := f.min, f.max
		switch {
		case rng == "*" || rng == "?":
			if !hasStep {
				star = true
			}
		default:
			a, b, isRange := strings.Cut(rng, "-")
			if lo, err = cronValue(a, f); err != nil {
				return 0, false, err
			}
			hi = lo
			if isRange {
				if hi, err = cronValue(b, f); err != nil {
					return 0, false, err
				}
			} else if hasStep {
				hi = f.max
			}
		}
		if lo > hi {
			return 0, false, fmt.Errorf("bad range %q", part)
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, star, nil
}

func cronValue(s string, f cronField) (int, error) {
	if v, ok := f.names[strings.ToLower(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < f.min || v > f.max {
		return 0, fmt.Errorf("bad value %q", s)
	}
	return v, nil
}

func (c *cronSpec) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<uint(t.Day())) != 0
	dow := c.dow&(1<<uint(t.Weekday())) != 0
	if c.domStar || c.dowStar {
		return dom && dow
	}
	return dom || dow
}

// next is the first time strictly after t matching the expression, in
// t's location; false when there is none within five years.
func (c *cronSpec) next(t time.Time) (time.Time, bool) {
	loc := t.Location()
	t = t.Truncate(time.Second).Add(time.Second)
	limit := t.Year() + 5
	added := false
wrap:
	if t.Year() > limit {
		return time.Time{}, false
	}
	for c.month&(1<<uint(t.Month())) == 0 {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, loc)
		}
		t = t.AddDate(0, 1, 0)
		if t.Month() == time.January {
			goto wrap
		}
	}
	for !c.dayMatches(t) {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
		}
		t = t.AddDate(0, 0, 1)
		if t.Day() == 1 {
			goto wrap
		}
	}
	for c.hour&(1<<uint(t.Hour())) == 0 {
		if !added {
			added = true
			t = time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), 0, 0, 0, loc)
		}
		t = t.Add(time.Hour)
		if t.Hour() == 0 {
			goto wrap
		}
	}
	for c.minute&(1<<uint(t.Minute())) == 0 {
		if !added {
			added = true
			t = t.Truncate(time.Minute)
		}
		t = t.Add(time.Minute)
		if t.Minute() == 0 {
			goto wrap
		}
	}
	for c.second&(1<<uint(t.Second())) == 0 {
		if !added {
			added = true
		}
		t = t.Add(time.Second)
		if t.Second() == 0 {
			goto wrap
		}
	}
	return t, true
}
