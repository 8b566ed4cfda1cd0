package main

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// retentionFlag is -retention: a Go duration ("720h") or whole days
// ("90d", which time.ParseDuration does not read), at least a second, or
// 0 for off.
type retentionFlag time.Duration

func (r *retentionFlag) String() string {
	d := time.Duration(*r)
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	return d.String()
}

func (r *retentionFlag) Set(s string) error {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 64)
		if err != nil || n < 0 || n > 100*365 {
			return errors.New("want a duration such as 720h, or whole days such as 90d")
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return errors.New("want a duration such as 720h, or whole days such as 90d")
		}
	}
	if d < 0 || d > 0 && d < time.Second {
		return errors.New("want 0 (keep every message) or at least 1s")
	}
	*r = retentionFlag(d)
	return nil
}
