package main

import (
	"io"
	"strings"
	"testing"
)

// TestGroupFlags: group mode derives the users and connections from the
// groups, and refuses plans that cannot run as asked.
func TestGroupFlags(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	parse := func(args ...string) (config, error) {
		return parseFlags(append([]string{"parley-load"}, args...), noEnv, io.Discard)
	}
	cfg, err := parse("-groups", "3", "-group-members", "5", "-group-senders", "2")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.users != 15 || cfg.conns != 15 {
		t.Errorf("users %d, conns %d; want 15 and 15 (one connection a member)", cfg.users, cfg.conns)
	}
	cfg, err = parse("-groups", "1", "-group-members", "5", "-group-senders", "5", "-users", "5", "-conns", "12")
	if err != nil || cfg.users != 5 || cfg.conns != 12 {
		t.Errorf("-users 5 -conns 12: users %d, conns %d, err %v", cfg.users, cfg.conns, err)
	}
	env := map[string]string{"PARLEY_LOAD_USERS": "7"}
	if _, err := parseFlags([]string{"parley-load", "-groups", "1", "-group-members", "5"}, func(k string) string { return env[k] }, io.Discard); err == nil || !strings.Contains(err.Error(), "-users 7") {
		t.Errorf("PARLEY_LOAD_USERS=7 with one group of 5: %v", err)
	}
	for _, args := range [][]string{
		{"-groups", "-1"},
		{"-groups", "1", "-group-members", "1"},
		{"-groups", "1", "-group-members", "5", "-group-senders", "0"},
		{"-groups", "1", "-group-members", "5", "-group-senders", "6"},
		{"-groups", "1", "-group-members", "5", "-users", "6"},
		{"-groups", "2", "-group-members", "5", "-conns", "9"},
		{"-groups", "1", "-group-members", "1001"},
		{"-groups", "1", "-group-members", "50", "-max-group-members", "20"},
		{"-groups", "1", "-idle"},
		{"-groups", "1", "-group-members", "5", "-conns", "200"}, // 40 a member, over 20
	} {
		if _, err := parse(args...); err == nil {
			t.Errorf("%q: no error", args)
		}
	}
}
