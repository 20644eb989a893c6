package httpapi_test

import (
	"strings"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
	"github.com/unhidra/unhidra/store/authstore"
)

// TestPasswordRehashOnParameterChange: after the operator raises the Argon2id
// cost, a user's next login upgrades their stored hash transparently.
func TestPasswordRehashOnParameterChange(t *testing.T) {
	cfg := testserver.Config(t, "sqlite")
	n := testserver.Start(t, cfg)
	register(t, n, "bob", bobPW)
	_, before, err := authstore.New(n.Store).UserByUsername(t.Context(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(before, "m=19456,t=2,p=1") {
		t.Fatalf("hash %q is not at the configured parameters", before)
	}
	n.Stop()

	cfg.Argon2Memory = 24576
	cfg.Argon2Iterations = 3
	n = testserver.Start(t, cfg)
	login(t, n, "bob", bobPW)
	_, after, err := authstore.New(n.Store).UserByUsername(t.Context(), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(after, "$argon2id$v=19$m=24576,t=3,p=1$") || after == before {
		t.Fatalf("hash not upgraded: %q", after)
	}
	login(t, n, "bob", bobPW) // and it still verifies
}
