package identity

import (
	"context"
	"regexp"
	"testing"
)

// nodeHash was made by the reference's runtime:
// crypto.scryptSync("correct-horse", salt 00..0f, 64, {N: 16384, r: 8, p: 1}).
const nodeHash = "$scrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$mnj4EBxTcwTCOfc27XbMDRTYX25/Ckx5n9GuWnjMkS0wIMgpueeZw+nQGUn3CHybDrzUv9fHTwA/Y3iLhxWsGQ=="

func TestPasswordHashIsCompatible(t *testing.T) {
	h := newHasher(0)
	ctx := context.Background()
	if !h.verify(ctx, "correct-horse", nodeHash) {
		t.Fatal("a hash made by the reference does not verify")
	}
	if h.verify(ctx, "correct-horsE", nodeHash) {
		t.Fatal("a wrong password verifies")
	}
	enc, err := h.hash(ctx, "correct-horse")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\$scrypt\$16384\$8\$1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{86}==$`).MatchString(enc) {
		t.Fatalf("format: %s", enc)
	}
	if !h.verify(ctx, "correct-horse", enc) {
		t.Fatal("own hash does not verify")
	}
	// The stored parameters are used: a cheaper hash verifies with a
	// default hasher.
	cheap, _ := newHasher(16).hash(ctx, "pw")
	if !h.verify(ctx, "pw", cheap) {
		t.Fatal("a hash with other parameters does not verify")
	}
	for _, bad := range []string{"", "plain", "$scrypt$16384$8$1$AAAA$", "$bcrypt$16384$8$1$AAECAwQFBgcICQoLDA0ODw==$AA==",
		"$scrypt$99999999$8$1$AAECAwQFBgcICQoLDA0ODw==$AA==", "$scrypt$16384$8$1$!!$AA==", "$scrypt$x$8$1$AA==$AA=="} {
		if h.verify(ctx, "pw", bad) {
			t.Errorf("%q verifies", bad)
		}
	}
}

func TestLockout(t *testing.T) {
	l := newLockout(3, 1000)
	for i := range 2 {
		l.fail("k", int64(i))
	}
	if l.locked("k", 10) != 0 {
		t.Fatal("locked after 2 of 3 failures")
	}
	l.fail("k", 100)
	if got := l.locked("k", 400); got != 600 {
		t.Fatalf("retry after %d, want 600 (window anchored at the first failure)", got)
	}
	if l.locked("k", 1001) != 0 {
		t.Fatal("still locked after the window")
	}
	// The window restarts at the next failure.
	l.fail("k", 1002)
	if l.locked("k", 1003) != 0 {
		t.Fatal("a new window started locked")
	}
	l.reset("k")
	if len(l.keys) != 0 {
		t.Fatal("reset kept the key")
	}
	// Old keys are swept as the map grows.
	for i := range 3000 {
		l.fail(string(rune('a'+i%26))+string(rune(i)), int64(i))
	}
	l.fail("late", 1_000_000)
	if len(l.keys) > 1100 {
		t.Fatalf("%d keys kept", len(l.keys))
	}
}
