package cluster_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/unhidra/unhidra/internal/cluster"
	"github.com/unhidra/unhidra/internal/webauthntest"
)

// send sends a JSON body (with a bearer token when access is set) and
// decodes the answer into out, returning the status.
func send(t *testing.T, method, url, access string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if access != "" {
		req.Header.Set("Authorization", "Bearer "+access)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
	}
	return resp.StatusCode
}

// TestPasskeysAcrossNodes: behind a load balancer the two halves of a
// ceremony may reach different nodes; the challenge is in the shared
// database, so either finishes what the other began, once. A passkey
// removed through one node stops signing in through the other at once.
func TestPasskeysAcrossNodes(t *testing.T) {
	const origin = "http://localhost" // every node's --public-url: the relying party
	c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: natsURL, Args: []string{"--public-url", origin}})
	if err := c.Ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	a, b := c.Nodes[0].URL, c.Nodes[1].URL
	account(t, t.Context(), c.Nodes[0], "pia", c.Token())
	var tk struct {
		AccessToken string `json:"access_token"`
	}
	if st := send(t, "POST", a+"/api/v1/auth/login", "", map[string]string{"username": "pia", "password": "a long passphrase for this test"}, &tk); st != 200 {
		t.Fatalf("login: %d", st)
	}
	type begin struct {
		CeremonyID string          `json:"ceremony_id"`
		Options    json.RawMessage `json:"options"`
	}
	dev := webauthntest.New(origin)

	// Registration begun on node 0, finished on node 1.
	var reg begin
	if st := send(t, "POST", a+"/api/v1/auth/webauthn/register/begin", tk.AccessToken, nil, &reg); st != 200 {
		t.Fatalf("register begin: %d", st)
	}
	cred, err := dev.Create(reg.Options)
	if err != nil {
		t.Fatal(err)
	}
	var made struct{ Passkey struct{ ID string } }
	if st := send(t, "POST", b+"/api/v1/auth/webauthn/register/finish", tk.AccessToken,
		map[string]any{"ceremony_id": reg.CeremonyID, "name": "Phone", "credential": json.RawMessage(cred)}, &made); st != 201 {
		t.Fatalf("register finish on node 1: %d", st)
	}

	// Sign-in begun on node 1, finished on node 0; the same ceremony a
	// second time on node 1 is refused.
	var login begin
	if st := send(t, "POST", b+"/api/v1/auth/webauthn/login/begin", "", nil, &login); st != 200 {
		t.Fatalf("login begin: %d", st)
	}
	assertion, err := dev.Get(login.Options)
	if err != nil {
		t.Fatal(err)
	}
	finish := map[string]any{"ceremony_id": login.CeremonyID, "credential": json.RawMessage(assertion)}
	var signed struct {
		AccessToken string `json:"access_token"`
		User        struct{ Username string }
	}
	if st := send(t, "POST", a+"/api/v1/auth/webauthn/login/finish", "", finish, &signed); st != 200 || signed.User.Username != "pia" {
		t.Fatalf("login finish on node 0: %d %+v", st, signed)
	}
	if st := send(t, "POST", b+"/api/v1/auth/webauthn/login/finish", "", finish, nil); st != 400 {
		t.Fatalf("the same ceremony again on node 1: %d, want 400", st)
	}

	// Removed through node 0: node 1 refuses the passkey on the next try.
	if st := send(t, "DELETE", a+"/api/v1/users/me/passkeys/"+made.Passkey.ID, tk.AccessToken, nil, nil); st != 204 {
		t.Fatalf("remove: %d", st)
	}
	if st := send(t, "POST", b+"/api/v1/auth/webauthn/login/begin", "", nil, &login); st != 200 {
		t.Fatalf("login begin: %d", st)
	}
	if assertion, err = dev.Get(login.Options); err != nil {
		t.Fatal(err)
	}
	if st := send(t, "POST", b+"/api/v1/auth/webauthn/login/finish", "", map[string]any{"ceremony_id": login.CeremonyID, "credential": json.RawMessage(assertion)}, nil); st != 401 {
		t.Fatalf("removed passkey on node 1: %d, want 401", st)
	}
}
