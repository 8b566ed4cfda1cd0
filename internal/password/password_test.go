package password

import (
	"regexp"
	"testing"
)

func TestHashAndVerify(t *testing.T) {
	a := Default()
	h, err := a.Hash("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`).MatchString(h) {
		t.Fatalf("hash %q is not the expected PHC string", h)
	}
	if ok, err := a.Verify(h, "correct horse battery staple"); !ok || err != nil {
		t.Errorf("right password: ok=%v err=%v", ok, err)
	}
	if ok, err := a.Verify(h, "correct horse battery stapler"); ok || err != nil {
		t.Errorf("wrong password: ok=%v err=%v", ok, err)
	}
	h2, _ := a.Hash("correct horse battery staple")
	if h2 == h {
		t.Error("two hashes of one password are equal: the salt is not random")
	}
}

func TestVerifyUsesParametersFromHash(t *testing.T) {
	weak := Argon2id{Memory: 64, Time: 1, Threads: 1, SaltLen: 8, KeyLen: 16}
	h, err := weak.Hash("password1")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Default().Verify(h, "password1"); !ok || err != nil {
		t.Errorf("hash made with other parameters: ok=%v err=%v", ok, err)
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=1,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=18$m=1,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=x$c2FsdA$a2V5", "$argon2id$v=19$m=1,t=1,p=1$!!$a2V5"} {
		if ok, err := Default().Verify(h, "password1"); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want an error", h, ok, err)
		}
	}
}
