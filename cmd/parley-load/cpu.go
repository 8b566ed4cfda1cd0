package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicksPerSecond is Linux's USER_HZ, the unit of utime and stime in
// /proc/PID/stat (sysconf(_SC_CLK_TCK)): 100 on every architecture Go
// runs Linux on, and not something the kernel lets change.
const clockTicksPerSecond = 100

// cpuTime returns the CPU time process pid has used, user and system
// together, from /proc/PID/stat.
func cpuTime(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(stat)
}

// parseStatCPU returns utime+stime of a /proc/PID/stat line. The second
// field, comm, is the command name in parentheses and may itself hold
// spaces and parentheses, so the fields are counted from its last ')'.
func parseStatCPU(stat []byte) (time.Duration, error) {
	end := bytes.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("/proc stat line without a command name: %.40q", stat)
	}
	// After comm: state (field 3), ppid, pgrp, session, tty_nr, tpgid,
	// flags, minflt, cminflt, majflt, cmajflt, utime (14), stime (15).
	fields := strings.Fields(string(stat[end+1:]))
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("/proc stat line with %d fields after the command name, want more than %d", len(fields), stime)
	}
	var ticks int64
	for _, i := range []int{utime, stime} {
		n, err := strconv.ParseInt(fields[i], 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("/proc stat field %d: %q is not a tick count", i+3, fields[i])
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicksPerSecond, nil
}

// cpuReport is the CPU time the server processes (-server-pid) used over
// the measured window: from the end of the warm-up to the end of the
// send phase.
type cpuReport struct {
	PIDs    []int     `json:"pids"`
	Seconds float64   `json:"seconds"`  // all the processes together
	WindowS float64   `json:"window_s"` // wall time between the two readings
	PerPID  []float64 `json:"per_pid_seconds,omitempty"`
	// Per 1,000 of this process's acked messages and deliveries sent in
	// the window (acked_measured, delivered_measured). With several load
	// processes against one server, each divides the whole server's CPU
	// by its own count: add the counts up.
	MSPer1000Acked      float64 `json:"ms_per_1000_acked,omitempty"`
	MSPer1000Deliveries float64 `json:"ms_per_1000_deliveries,omitempty"`
	Error               string  `json:"error,omitempty"`
}

// cpuReadings reads the CPU time of every pid; a pid that cannot be read
// makes it fail.
func cpuReadings(pids []int) ([]time.Duration, error) {
	out := make([]time.Duration, len(pids))
	for i, pid := range pids {
		d, err := cpuTime(pid)
		if err != nil {
			return nil, err
		}
		out[i] = d
	}
	return out, nil
}

// newCPUReport makes the report from the readings at the start and end of
// the window, and the window's acked messages and deliveries.
func newCPUReport(pids []int, start, end []time.Duration, window time.Duration, acked, delivered int64) *cpuReport {
	r := &cpuReport{PIDs: pids, WindowS: window.Seconds()}
	var total time.Duration
	for i := range pids {
		d := end[i] - start[i]
		total += d
		r.PerPID = append(r.PerPID, d.Seconds())
	}
	r.Seconds = total.Seconds()
	if acked > 0 {
		r.MSPer1000Acked = r.Seconds * 1e3 * 1000 / float64(acked)
	}
	if delivered > 0 {
		r.MSPer1000Deliveries = r.Seconds * 1e3 * 1000 / float64(delivered)
	}
	return r
}
