package main

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestWebSocketCapHoldsUnderParallelHandshakes: 300 handshakes of one user
// at once against the cap of 20 open exactly 20 sockets; every other one is
// answered 429 before the upgrade.
func TestWebSocketCapHoldsUnderParallelHandshakes(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PARLEY_MAX_CONNS_PER_USER": "20"})
	alice := register(t, s, "alice")
	const tries = 300
	var (
		mu      sync.Mutex
		opened  int
		refused int
		other   []string
		wg      sync.WaitGroup
	)
	for i := range tries {
		wg.Go(func() {
			_, resp, err := alice.dial(fmt.Sprint("tab", i), dialOptions{noReader: true})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				opened++
			case resp != nil && resp.StatusCode == http.StatusTooManyRequests:
				refused++
			default:
				other = append(other, fmt.Sprint(err, resp))
			}
		})
	}
	wg.Wait()
	if opened != 20 || refused != tries-20 || len(other) > 0 {
		t.Errorf("%d opened, %d refused with 429, %d other failures %q; want 20 and %d", opened, refused, len(other), other, tries-20)
	}
}
