package testenv

import "testing"

func TestRequired(t *testing.T) {
	for _, tc := range []struct {
		require, name string
		want          bool
	}{
		{"", Postgres, false},
		{"all", Postgres, true},
		{"all", Chromium, true},
		{"postgres", Postgres, true},
		{"postgres", Redis, false},
		{"redis, chromium", Chromium, true},
		{"PARLEY_TEST_REDIS", Redis, true},
		{"PARLEY_TEST_REDIS", Postgres, false},
		{"none", Redis, false},
	} {
		if got := required(tc.require, tc.name); got != tc.want {
			t.Errorf("required(%q, %s) = %v, want %v", tc.require, tc.name, got, tc.want)
		}
	}
}
