package chat

import (
	"strings"
	"testing"
)

func TestBlobKeys(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		k := NewBlobKey()
		if !ValidBlobKey(k) {
			t.Fatalf("NewBlobKey() = %q, not a valid key", k)
		}
		if seen[k] {
			t.Fatalf("NewBlobKey() gave %q twice", k)
		}
		seen[k] = true
	}
	k := NewBlobKey()
	for _, bad := range []string{"", k[:31], k + "0", strings.ToUpper(k), k[:31] + "g", "../../etc/passwd", "../" + k[3:], k[:2] + "/" + k[3:], k[:31] + "\x00"} {
		if ValidBlobKey(bad) {
			t.Errorf("ValidBlobKey(%q) = true", bad)
		}
	}
}
