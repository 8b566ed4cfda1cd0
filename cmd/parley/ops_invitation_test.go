package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/wire"
)

// TestInvitationLimitsAgree: the API and the admin page's form read 0 (or
// nothing) as the default and refuse anything else out of range with one
// message per field, whichever side of the range it is on.
func TestInvitationLimitsAgree(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "parley.db")
	if out, err := adminCLI(t, db, "create-user", "-username", "owner", "-password-file", passwordFile(t, "password-owner")); err != nil {
		t.Fatalf("create-user: %v\n%s", err, out)
	}
	s := startServer(t, map[string]string{"PARLEY_DB": db})
	root := login(t, s, "owner", "password-owner")

	for _, body := range []any{map[string]int{"max_uses": 0, "expires_in": 0}, map[string]int{}} {
		var resp wire.InvitationResponse
		root.call("POST", "/api/v1/admin/invitations", body, http.StatusCreated, &resp)
		inv := resp.Invitation
		if life := inv.ExpiresAt.Sub(inv.CreatedAt); inv.MaxUses != 1 || life != 7*24*time.Hour {
			t.Errorf("%v: max_uses %d, lifetime %v; want the defaults 1 and 7 days", body, inv.MaxUses, life)
		}
	}
	messages := map[string]map[string]bool{}
	for _, c := range []struct {
		field string
		value int64
	}{
		{"max_uses", -5}, {"max_uses", 10001},
		{"expires_in", -5}, {"expires_in", 59}, {"expires_in", 365*24*3600 + 1},
	} {
		status, raw := root.do("POST", "/api/v1/admin/invitations", map[string]int64{c.field: c.value})
		var e wire.Error
		jsonUnmarshal(raw, &e)
		if status != http.StatusBadRequest || e.Error.Code != "invalid" || !strings.HasPrefix(e.Error.Message, c.field+" must be") {
			t.Errorf("%s %d: %d %q %q; want 400 invalid naming the field", c.field, c.value, status, e.Error.Code, e.Error.Message)
		}
		if messages[c.field] == nil {
			messages[c.field] = map[string]bool{}
		}
		messages[c.field][e.Error.Message] = true
	}
	for field, m := range messages {
		if len(m) != 1 {
			t.Errorf("%s out of range gets %d different messages: %v", field, len(m), m)
		}
	}

	// The form: 0 or empty is the default, as in the API.
	for _, values := range []url.Values{{"max_uses": {"0"}, "expires_hours": {"0"}}, {"max_uses": {""}, "expires_hours": {""}}} {
		if status, _, body := root.form("/admin/invitations", values); status != http.StatusOK || !strings.Contains(body, "Invitation created.") {
			t.Errorf("the form with %v: %d, want the invitation created", values, status)
		}
	}
	for _, c := range []struct{ uses, hours, want string }{
		{"-1", "24", "The accounts it admits must be a whole number from 1 to 10000"},
		{"10001", "24", "The accounts it admits must be a whole number from 1 to 10000"},
		{"1", "-2", "The hours it stays valid must be a whole number from 1 to 8760"},
		{"1", "8761", "The hours it stays valid must be a whole number from 1 to 8760"},
	} {
		status, _, body := root.form("/admin/invitations", url.Values{"max_uses": {c.uses}, "expires_hours": {c.hours}})
		if status != http.StatusBadRequest || !strings.Contains(body, c.want) {
			t.Errorf("the form with %s uses for %s hours: %d; want 400 saying %q", c.uses, c.hours, status, c.want)
		}
	}
	var page wire.InvitationsResponse
	root.call("GET", "/api/v1/admin/invitations", nil, http.StatusOK, &page)
	if len(page.Invitations) != 4 {
		t.Errorf("%d invitations, want the 4 made with defaults", len(page.Invitations))
	}
}
