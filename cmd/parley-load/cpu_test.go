package main

import (
	"io"
	"os"
	"slices"
	"testing"
	"time"
)

// TestParseStatCPU: utime+stime of /proc/PID/stat, in clock ticks of
// 1/100 s, found after the command name however many spaces and
// parentheses it holds.
func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	tail := " 1 100 100 0 -1 4194560 3456 0 12 0 250 50 0 0 20 0 9 0 12345 1000000 500 18446744073709551615\n"
	for _, comm := range []string{"(parley)", "(a b)", "(x) (y))", "())", "( ) S 1 2 3 4 5 6 7 8 9 10 11 )"} {
		got, err := parseStatCPU([]byte("4242 " + comm + " S" + tail))
		if err != nil || got != 3*time.Second {
			t.Errorf("comm %q: %v, %v; want 3s (250+50 ticks)", comm, got, err)
		}
	}
	for _, bad := range []string{"", "4242 parley S 1 2", "4242 (parley) S 1 2 3", "4242 (p) S 1 100 100 0 -1 4194560 3456 0 12 0 x 50 0"} {
		if got, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("%q: %v, no error", bad, got)
		}
	}
	if _, err := cpuTime(os.Getpid()); err != nil {
		t.Errorf("this process's CPU time: %v", err)
	}
}

// TestCPUReport: the servers' CPU time over the window, summed over the
// processes, per 1,000 acked messages and per 1,000 deliveries.
func TestCPUReport(t *testing.T) {
	t.Parallel()
	r := newCPUReport([]int{7, 8}, []time.Duration{time.Second, 2 * time.Second}, []time.Duration{3 * time.Second, 3 * time.Second},
		10*time.Second, 30000, 300000)
	if r.Seconds != 3 || !slices.Equal(r.PerPID, []float64{2, 1}) || r.MSPer1000Acked != 100 || r.MSPer1000Deliveries != 10 {
		t.Errorf("%+v: want 3 s (2 + 1), 100 ms per 1,000 acked, 10 per 1,000 deliveries", r)
	}
}

// TestServerPIDFlag: -server-pid repeated or as a comma list names
// several server processes; the first is the one whose memory is read.
func TestServerPIDFlag(t *testing.T) {
	t.Parallel()
	noEnv := func(string) string { return "" }
	for _, args := range [][]string{{"-server-pid", "11", "-server-pid", "12,13"}, {"-server-pid", "11, 12,13"}} {
		cfg, err := parseFlags(append([]string{"parley-load"}, args...), noEnv, io.Discard)
		if err != nil || !slices.Equal(cfg.serverPIDs, []int{11, 12, 13}) || cfg.serverPID != 11 {
			t.Errorf("%q: %v %d, %v", args, cfg.serverPIDs, cfg.serverPID, err)
		}
	}
	if _, err := parseFlags([]string{"parley-load", "-server-pid", "12,x"}, noEnv, io.Discard); err == nil {
		t.Error("-server-pid 12,x passed")
	}
}
