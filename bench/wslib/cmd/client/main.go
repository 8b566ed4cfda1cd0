package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	coder "github.com/coder/websocket"
	"github.com/gorilla/websocket"

	"github.com/parleychat/parley/bench/wslib/internal/payload"
)

type conn interface {
	read() ([]byte, error)
	write([]byte) error
	close()
}

type gconn struct{ c *websocket.Conn }

func (g gconn) read() ([]byte, error) { _, b, err := g.c.ReadMessage(); return b, err }
func (g gconn) write(b []byte) error  { return g.c.WriteMessage(websocket.TextMessage, b) }
func (g gconn) close()                { g.c.Close() }

type cconn struct{ c *coder.Conn }

func (c cconn) read() ([]byte, error) { _, b, err := c.c.Read(context.Background()); return b, err }
func (c cconn) write(b []byte) error  { return c.c.Write(context.Background(), coder.MessageText, b) }
func (c cconn) close()                { c.c.CloseNow() }

var (
	addr    = flag.String("addr", "127.0.0.1:9000", "server")
	lib     = flag.String("lib", "gorilla", "gorilla|coder (client library; same as server)")
	variant = flag.String("variant", "default", "ctx => request compression with coder")
	mode    = flag.String("mode", "idle", "idle|fanout|c2s|hold (hold: dial -conns, print READY, keep them until stdin closes)")
	hello   = flag.Bool("hello", false, "idle: each connection sends a ping and one text frame and waits for the server's ACK before it idles, so the server has read in its library (as after a log-in)")
	perProc = flag.Int("per-proc", 5000, "idle: connections per holding child process (a process may hold at most 20,000 files)")
	steps   = flag.String("steps", "1000,10000", "idle: connection counts to measure at")
	spid    = flag.Int("spid", 0, "server pid (idle mode; read /proc/<pid>/status)")
	nconns  = flag.Int("conns", 100, "throughput: connections")
	nframes = flag.Int("n", 5000, "throughput: frames per connection")
	runs    = flag.Int("runs", 3, "throughput: measured runs (plus 1 warm-up)")
)

func dial() (conn, error) {
	url := "ws://" + *addr + "/ws"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if *lib != "coder" { // gorilla dials for the gorilla, nbio and gws servers
		c, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
		if err != nil {
			return nil, err
		}
		return gconn{c}, nil
	}
	opts := &coder.DialOptions{}
	if *variant == "ctx" {
		opts.CompressionMode = coder.CompressionContextTakeover
	}
	c, _, err := coder.Dial(ctx, url, opts)
	if err != nil {
		return nil, err
	}
	c.SetReadLimit(1 << 20)
	return cconn{c}, nil
}

func dialN(n int) []conn {
	out := make([]conn, n)
	var idx atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(idx.Add(1)) - 1
				if i >= n {
					return
				}
				c, err := dial()
				if err != nil {
					log.Fatalf("dial %d: %v", i, err)
				}
				out[i] = c
			}
		}()
	}
	wg.Wait()
	return out
}

func getJSON(path string) map[string]any {
	resp, err := http.Get("http://" + *addr + path)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	m := map[string]any{}
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &m)
	return m
}

func waitConns(n int) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if int(getJSON("/count")["conns"].(float64)) == n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	log.Fatalf("server never reached %d conns", n)
}

func procRSS(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			v, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return v
		}
	}
	return -1
}

// startHolder starts a child process (this binary in hold mode) that dials k
// connections, and returns once they are all open. Closing its stdin ends it.
func startHolder(k int) holder {
	c := exec.Command(os.Args[0], "-mode", "hold", "-conns", strconv.Itoa(k),
		"-addr", *addr, "-lib", *lib, "-variant", *variant, "-hello="+strconv.FormatBool(*hello))
	c.Stderr = os.Stderr
	in, err := c.StdinPipe()
	if err != nil {
		log.Fatal(err)
	}
	out, err := c.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := c.Start(); err != nil {
		log.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "READY\n" {
		log.Fatalf("holder: %q %v", line, err)
	}
	return holder{c, in}
}

// holder is a child process holding connections; closing stdin ends it.
type holder struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
}

// holdConns dials -conns connections, reports READY and keeps them open
// until stdin is closed.
func holdConns() {
	cs := dialN(*nconns)
	if *hello {
		for i, c := range cs {
			g, ok := c.(gconn)
			if !ok {
				log.Fatal("-hello needs a gorilla client")
			}
			if err := g.c.WriteControl(websocket.PingMessage, []byte("hi"), time.Now().Add(10*time.Second)); err != nil {
				log.Fatalf("ping %d: %v", i, err)
			}
			if err := g.write([]byte("END")); err != nil {
				log.Fatalf("hello %d: %v", i, err)
			}
			if b, err := g.read(); err != nil || string(b) != "ACK" { // the pong is taken by the default handler
				log.Fatalf("ack %d: %q %v", i, b, err)
			}
		}
	}
	fmt.Println("READY")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range cs {
		c.close()
	}
}

func idle() {
	var holders []holder
	defer func() {
		for _, h := range holders {
			h.stdin.Close()
			_ = h.cmd.Wait()
		}
	}()
	type snap struct {
		n                     int
		rss, heap, stack, gor float64
	}
	var snaps []snap
	s0 := getJSON("/stats")
	fmt.Printf("n=0 rss_kib(/proc)=%d heap_inuse=%.0f stack_inuse=%.0f goroutines=%.0f\n",
		procRSS(*spid), s0["heap_inuse"], s0["stack_inuse"], s0["goroutines"])
	have := 0
	for _, s := range strings.Split(*steps, ",") {
		n, _ := strconv.Atoi(s)
		for have < n {
			k := min(*perProc, n-have)
			holders = append(holders, startHolder(k))
			have += k
		}
		waitConns(n)
		time.Sleep(time.Second)
		st := getJSON("/stats") // GC + FreeOSMemory inside server
		rss := procRSS(*spid)
		sn := snap{n, float64(rss), st["heap_inuse"].(float64), st["stack_inuse"].(float64), st["goroutines"].(float64)}
		snaps = append(snaps, sn)
		fmt.Printf("n=%d rss_kib(/proc)=%d rss_kib(self)=%.0f heap_inuse=%.0f stack_inuse=%.0f goroutines=%.0f\n",
			n, rss, st["rss_kib"], sn.heap, sn.stack, sn.gor)
	}
	if len(snaps) >= 2 {
		a, b := snaps[0], snaps[len(snaps)-1]
		dn := float64(b.n - a.n)
		fmt.Printf("RESULT lib=%s variant=%s hello=%t n=%d..%d rss_per_conn_kib=%.2f heap_per_conn_bytes=%.0f stack_per_conn_bytes=%.0f goroutines_per_conn=%.2f\n",
			*lib, *variant, *hello, a.n, b.n, (b.rss-a.rss)/dn, (b.heap-a.heap)/dn, (b.stack-a.stack)/dn, (b.gor-a.gor)/dn)
	}
}

// procCPU returns utime+stime of pid in clock ticks (100 Hz).
func procCPU(pid int) float64 {
	if pid <= 0 {
		return 0
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(b)
	f := strings.Fields(s[strings.LastIndex(s, ")")+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return u + st
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func fanout() {
	cs := dialN(*nconns)
	waitConns(*nconns)
	var rates, cpus []float64
	for r := 0; r <= *runs; r++ {
		var wg sync.WaitGroup
		var got atomic.Int64
		for _, c := range cs {
			wg.Add(1)
			go func(c conn) {
				defer wg.Done()
				for i := 0; i < *nframes; i++ {
					if _, err := c.read(); err != nil {
						log.Fatal(err)
					}
					got.Add(1)
				}
			}(c)
		}
		cpu0 := procCPU(*spid)
		start := time.Now()
		getJSON("/fanout?n=" + strconv.Itoa(*nframes))
		wg.Wait()
		el := time.Since(start)
		total := float64(*nconns * *nframes)
		cpuUs := (procCPU(*spid) - cpu0) * 10000 / total // ticks are 10ms
		if r > 0 {
			cpus = append(cpus, cpuUs)
		}
		rate := total / el.Seconds()
		tag := "run"
		if r == 0 {
			tag = "warmup"
		} else {
			rates = append(rates, rate)
		}
		fmt.Printf("%s %d: %d frames in %v = %.0f frames/s\n", tag, r, got.Load(), el, rate)
	}
	fmt.Printf("RESULT lib=%s mode=fanout conns=%d n=%d median_frames_per_s=%.0f runs=%v server_cpu_us_per_frame=%.2f\n", *lib, *nconns, *nframes, median(rates), fmtRates(rates), median(cpus))
}

func c2s() {
	cs := dialN(*nconns)
	waitConns(*nconns)
	var rates, cpus []float64
	for r := 0; r <= *runs; r++ {
		getJSON("/reset")
		var wg sync.WaitGroup
		cpu0 := procCPU(*spid)
		start := time.Now()
		for _, c := range cs {
			wg.Add(1)
			go func(c conn) {
				defer wg.Done()
				for i := 0; i < *nframes; i++ {
					if err := c.write(payload.Msg); err != nil {
						log.Fatal(err)
					}
				}
				if err := c.write([]byte("END")); err != nil {
					log.Fatal(err)
				}
				b, err := c.read() // server ACKs after it has read all our frames
				if err != nil || string(b) != "ACK" {
					log.Fatalf("ack: %q %v", b, err)
				}
			}(c)
		}
		wg.Wait()
		el := time.Since(start)
		total := float64(*nconns * *nframes)
		cpuUs := (procCPU(*spid) - cpu0) * 10000 / total
		if r > 0 {
			cpus = append(cpus, cpuUs)
		}
		got := int64(getJSON("/count")["recv"].(float64))
		rate := total / el.Seconds()
		tag := "run"
		if r == 0 {
			tag = "warmup"
		} else {
			rates = append(rates, rate)
		}
		fmt.Printf("%s %d: server counted %d frames in %v = %.0f frames/s\n", tag, r, got, el, rate)
	}
	fmt.Printf("RESULT lib=%s mode=c2s conns=%d n=%d median_frames_per_s=%.0f runs=%v server_cpu_us_per_frame=%.2f\n", *lib, *nconns, *nframes, median(rates), fmtRates(rates), median(cpus))
}

func fmtRates(r []float64) string {
	s := make([]string, len(r))
	for i, v := range r {
		s[i] = strconv.FormatFloat(v, 'f', 0, 64)
	}
	return "[" + strings.Join(s, ",") + "]"
}

func main() {
	flag.Parse()
	switch *mode {
	case "idle":
		idle()
	case "fanout":
		fanout()
	case "c2s":
		c2s()
	case "hold":
		holdConns()
	}
}
