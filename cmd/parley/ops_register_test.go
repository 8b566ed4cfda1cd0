package main

import (
	"net/http"
	"path/filepath"
	"testing"
)

// TestRefusedSignUpsKeepTheAllowance: with -register-rate 2, sign-ups
// refused for a wrong invitation or a taken name do not use up the
// address's allowance: two accounts are still created, and only the third
// is refused by the rate limit.
func TestRefusedSignUpsKeepTheAllowance(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "parley.db")
	if out, err := adminCLI(t, db, "create-user", "-username", "owner", "-password-file", passwordFile(t, "password-owner")); err != nil {
		t.Fatalf("create-user: %v\n%s", err, out)
	}
	s := startServer(t, map[string]string{"PARLEY_DB": db, "PARLEY_REGISTRATION": "invite", "PARLEY_REGISTER_RATE": "2"})
	inv := login(t, s, "owner", "password-owner").createInvitation(10)
	for _, name := range []string{"wrong1", "wrong2", "wrong3"} {
		if status, code := tryRegister(t, s, name, "not-an-invitation"); status != http.StatusForbidden {
			t.Errorf("a wrong invitation: %d %q, want 403", status, code)
		}
	}
	if status, code := tryRegister(t, s, "owner", inv.Token); status != http.StatusConflict {
		t.Errorf("a taken name: %d %q, want 409", status, code)
	}
	for _, name := range []string{"ada", "bob"} {
		if status, code := tryRegister(t, s, name, inv.Token); status != http.StatusCreated {
			t.Errorf("sign-up %s after refused ones: %d %q, want 201", name, status, code)
		}
	}
	if status, code := tryRegister(t, s, "cyd", inv.Token); status != http.StatusTooManyRequests {
		t.Errorf("a third account from one address: %d %q, want 429", status, code)
	}
}
