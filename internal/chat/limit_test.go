package chat_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/memory"
)

// aliceStore knows one user, alice, whose password is "right password".
type aliceStore struct{ chat.Store }

func (aliceStore) UserCredentials(_ context.Context, name string) (chat.User, string, error) {
	if name == "alice" {
		return chat.User{ID: 1, Username: "alice"}, "h:right password", nil
	}
	return chat.User{}, "", chat.NotFound("user")
}

func (aliceStore) UserByID(_ context.Context, id chat.UserID) (chat.User, error) {
	return chat.User{ID: id, Username: "user"}, nil
}

func (aliceStore) Conversations(context.Context, chat.ConversationQuery) ([]chat.ConversationRow, error) {
	return nil, nil
}

func (aliceStore) CreateUser(_ context.Context, u chat.User, _ string) (chat.User, error) {
	u.ID = 2
	return u, nil
}

// verifyCounter is a hasher that counts verifications, safe in parallel.
type verifyCounter struct{ verifies atomic.Int64 }

func (h *verifyCounter) Hash(p string) (string, error) { return "h:" + p, nil }
func (h *verifyCounter) Verify(hash, p string) (bool, error) {
	h.verifies.Add(1)
	return hash == "h:"+p, nil
}

// syncLog collects log output, safe in parallel.
type syncLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *syncLog) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), `"msg":"`+msg+`"`)
}

func newService(t *testing.T, limits chat.Limits) (*chat.Service, *verifyCounter, *syncLog) {
	t.Helper()
	h, logs := &verifyCounter{}, &syncLog{}
	svc, err := chat.NewService(chat.ServiceConfig{
		Store:  aliceStore{},
		Hasher: h,
		Logger: slog.New(slog.NewJSONHandler(logs, nil)),
		Limits: limits,
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc, h, logs
}

// TestParallelLoginsCheckAtMostFree: 100 parallel wrong passwords for one
// account from one address have at most five passwords verified.
func TestParallelLoginsCheckAtMostFree(t *testing.T) {
	t.Parallel()
	svc, h, _ := newService(t, chat.Limits{Logins: memory.NewThrottle()})
	addr := netip.MustParseAddr("203.0.113.1")
	var (
		wg                  sync.WaitGroup
		refused, wrong, bad atomic.Int64
	)
	for range 100 {
		wg.Go(func() {
			_, err := svc.Login(t.Context(), chat.Credentials{Username: "alice", Password: "wrong password", Addr: addr})
			switch chat.ErrorCode(err) {
			case chat.ERATELIMITED:
				refused.Add(1)
			case chat.EUNAUTHORIZED:
				wrong.Add(1)
			default:
				bad.Add(1)
			}
		})
	}
	wg.Wait()
	if wrong.Load() != 5 || refused.Load() != 95 || bad.Load() != 0 || h.verifies.Load() != 5 {
		t.Errorf("401: %d, 429: %d, other: %d, verifications: %d; want 5, 95, 0, 5", wrong.Load(), refused.Load(), bad.Load(), h.verifies.Load())
	}
	// The owner's right password from another address still works.
	if _, err := svc.Login(t.Context(), chat.Credentials{Username: "alice", Password: "right password", Addr: netip.MustParseAddr("198.51.100.1")}); err != nil {
		t.Errorf("alice from another address: %v", err)
	}
}

// TestStrangerCannotLockOutOwner: past the account's budget, logins from
// addresses that never signed in wait, the attack is logged once, and the
// owner's right password from a known address still works.
func TestStrangerCannotLockOutOwner(t *testing.T) {
	t.Parallel()
	policy := chat.DefaultLoginPolicy()
	policy.Account.Free = 10
	svc, _, logs := newService(t, chat.Limits{Logins: memory.NewThrottle(), LoginPolicy: policy})
	home := netip.MustParseAddr("198.51.100.7")
	if _, err := svc.Login(t.Context(), chat.Credentials{Username: "alice", Password: "right password", Addr: home}); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		addr := netip.AddrFrom4([4]byte{203, 0, 113, byte(i / 2)})
		_, _ = svc.Login(t.Context(), chat.Credentials{Username: "alice", Password: "wrong password", Addr: addr})
	}
	if _, err := svc.Login(t.Context(), chat.Credentials{Username: "alice", Password: "right password", Addr: netip.MustParseAddr("192.0.2.1")}); chat.ErrorCode(err) != chat.ERATELIMITED {
		t.Errorf("a new address past the account budget: %v, want rate_limited", err)
	}
	if n := logs.count("login attack: account failure budget spent"); n != 1 {
		t.Errorf("attack logged %d times, want once", n)
	}
	for range 3 {
		if _, err := svc.Login(t.Context(), chat.Credentials{Username: "alice", Password: "right password", Addr: home}); err != nil {
			t.Errorf("alice from home during the attack: %v", err)
		}
	}
}

// TestSuccessClearsPairCount: a success clears the account's count at its
// address, and refunds its place in the address's count.
func TestSuccessClearsPairCount(t *testing.T) {
	t.Parallel()
	policy := chat.DefaultLoginPolicy()
	policy.Address.Free = 6
	svc, _, _ := newService(t, chat.Limits{Logins: memory.NewThrottle(), LoginPolicy: policy})
	addr := netip.MustParseAddr("198.51.100.9")
	for range 4 {
		_, _ = svc.Login(t.Context(), chat.Credentials{Username: "alice", Password: "wrong password", Addr: addr})
	}
	for range 3 {
		if _, err := svc.Login(t.Context(), chat.Credentials{Username: "alice", Password: "right password", Addr: addr}); err != nil {
			t.Fatalf("right password: %v", err)
		}
	}
	// 4 failures and 3 refunded successes at the address: 2 more fit.
	for i := range 2 {
		if _, err := svc.Login(t.Context(), chat.Credentials{Username: "alice", Password: "wrong password", Addr: addr}); chat.ErrorCode(err) != chat.EUNAUTHORIZED {
			t.Fatalf("failure %d after the successes: %v", i+1, err)
		}
	}
	if _, err := svc.Login(t.Context(), chat.Credentials{Username: "alice", Password: "wrong password", Addr: addr}); chat.ErrorCode(err) != chat.ERATELIMITED {
		t.Errorf("past the address budget: %v, want rate_limited", err)
	}
}

// downLimiter and downThrottle cannot answer, like Redis away.
type downLimiter struct{}

func (downLimiter) Allow(context.Context, string) (bool, time.Duration, error) {
	return false, 0, errors.New("redis: connection refused")
}

func (downLimiter) AllowN(context.Context, string, int) (bool, time.Duration, error) {
	return false, 0, errors.New("redis: connection refused")
}

func (downLimiter) Refund(context.Context, string) error {
	return errors.New("redis: connection refused")
}

type downThrottle struct{}

var errDown = errors.New("redis: connection refused")

func (downThrottle) Reserve(context.Context, ...chat.ThrottleKey) (time.Duration, int, error) {
	return 0, -1, errDown
}
func (downThrottle) Refund(context.Context, ...chat.ThrottleKey) error { return errDown }
func (downThrottle) Reset(context.Context, string) error               { return errDown }
func (downThrottle) Remember(context.Context, string, time.Duration) (bool, error) {
	return false, errDown
}
func (downThrottle) Known(context.Context, string) (bool, error) { return false, errDown }

// TestLimitsWhenBackendAway: logins and sign-ups fail closed with
// EUNAVAILABLE; budgets fall back to the local limiter, or fail closed
// without one; the outage is logged once per dependency, not per call.
func TestLimitsWhenBackendAway(t *testing.T) {
	t.Parallel()
	svc, h, logs := newService(t, chat.Limits{
		Logins:        downThrottle{},
		Registrations: downLimiter{},
		Lists:         downLimiter{},
		Conversations: downLimiter{},
		Local:         &chat.Limits{Lists: memory.NewLimiter(0.001, 2)},
	})
	addr := netip.MustParseAddr("203.0.113.1")
	for range 5 {
		if _, err := svc.Login(t.Context(), chat.Credentials{Username: "alice", Password: "right password", Addr: addr}); chat.ErrorCode(err) != chat.EUNAVAILABLE || chat.RetryAfter(err) <= 0 {
			t.Errorf("login with the throttle away: %v, want unavailable with a retry", err)
		}
		if _, err := svc.Register(t.Context(), chat.Registration{Username: "bob", Password: "password-bob", Addr: addr}); chat.ErrorCode(err) != chat.EUNAVAILABLE {
			t.Errorf("sign-up with its limiter away: %v, want unavailable", err)
		}
	}
	if n := h.verifies.Load(); n != 0 {
		t.Errorf("%d passwords verified with the throttle away", n)
	}
	for i := range 2 {
		if _, err := svc.Conversations(t.Context(), 1, chat.ConversationPageQuery{}); chat.ErrorCode(err) == chat.ERATELIMITED || chat.ErrorCode(err) == chat.EUNAVAILABLE {
			t.Fatalf("list page %d within the local budget: %v", i+1, err)
		}
	}
	if _, err := svc.Conversations(t.Context(), 1, chat.ConversationPageQuery{}); chat.ErrorCode(err) != chat.ERATELIMITED {
		t.Errorf("list page past the local budget: %v, want rate_limited", err)
	}
	if _, _, err := svc.StartDirect(t.Context(), 1, 2); chat.ErrorCode(err) != chat.EUNAVAILABLE && chat.ErrorCode(err) != chat.ENOTFOUND {
		t.Errorf("conversation start with no local fallback: %v", err)
	}
	if n := logs.count("login throttle unavailable: refusing logins"); n != 1 {
		t.Errorf("throttle outage logged %d times, want once", n)
	}
	if n := logs.count("rate limiter unavailable"); n != 1 {
		t.Errorf("limiter outage logged %d times, want once", n)
	}
}
