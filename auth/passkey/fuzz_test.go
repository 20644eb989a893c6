package passkey

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/internal/webauthntest"
)

// FuzzResponses feeds arbitrary bytes, and mutations of real answers, to
// the parsers a ceremony's finish runs on the browser's answer: they never
// panic, and a refusal becomes a client error with a bounded message.
func FuzzResponses(f *testing.F) {
	a := webauthntest.New("http://localhost")
	opts, _ := json.Marshal(map[string]any{
		"challenge": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "rp": map[string]string{"id": "localhost"},
		"user": map[string]string{"id": "dXNlcg"},
	})
	created, err := a.Create(opts)
	if err != nil {
		f.Fatal(err)
	}
	got, err := a.Get([]byte(`{"challenge":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","rpId":"localhost"}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(created)
	f.Add(got)
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"id":"\u0000","rawId":"","type":"public-key","response":{"clientDataJSON":"\xff"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := protocol.ParseCredentialCreationResponseBytes(b); err != nil {
			checkRefusal(t, badResponse(err))
		}
		if _, err := protocol.ParseCredentialRequestResponseBytes(b); err != nil {
			checkRefusal(t, badResponse(err))
		}
	})
}

func checkRefusal(t *testing.T, err error) {
	t.Helper()
	var e *unhidra.Error
	if unhidra.ErrorCode(err) != unhidra.EInvalid {
		t.Fatalf("refusal %v has code %s", err, unhidra.ErrorCode(err))
	}
	if !errors.As(err, &e) || len(e.Message) > 300 {
		t.Fatalf("refusal %v: message unbounded", err)
	}
}

func TestRelyingParty(t *testing.T) {
	for _, c := range []struct{ base, rpID, origin string }{
		{"https://chat.example.com", "chat.example.com", "https://chat.example.com"},
		{"https://Chat.Example.com:8443/", "chat.example.com", "https://Chat.Example.com:8443"},
		{"http://localhost:8080", "localhost", "http://localhost:8080"},
	} {
		rp, origin, err := relyingParty(c.base)
		if err != nil || rp != c.rpID || origin != c.origin {
			t.Errorf("relyingParty(%q) = %q %q %v", c.base, rp, origin, err)
		}
	}
	for _, bad := range []string{"http://127.0.0.1:8080", "http://[::1]:80", "ftp://x", "", "http://"} {
		if _, _, err := relyingParty(bad); err == nil {
			t.Errorf("relyingParty(%q) accepted", bad)
		}
	}
}
