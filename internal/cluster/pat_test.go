package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/unhidra/unhidra/client"
	"github.com/unhidra/unhidra/internal/cluster"
)

// TestAccessTokenRevokedAcrossNodes: a personal access token revoked
// through node 0 is refused by node 1 on the very next request, and its
// WebSocket on node 1 is closed with 4001; there is no cache to wait out.
func TestAccessTokenRevokedAcrossNodes(t *testing.T) {
	c := cluster.Start(t, cluster.Options{Nodes: 2, Bus: natsURL})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Ready(ctx); err != nil {
		t.Fatal(err)
	}
	bob := account(t, ctx, c.Nodes[0], "bob", c.Token())
	tok, secret, err := bob.CreateToken(ctx, client.CreateTokenInput{Name: "script", Scopes: []string{"read"}, ExpiresIn: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	script, err := client.New(c.Nodes[1].URL, client.WithTokens(client.Tokens{AccessToken: secret}))
	if err != nil {
		t.Fatal(err)
	}
	if me, err := script.Me(ctx); err != nil || me.Username != "bob" {
		t.Fatalf("me with the token on node 1: %+v %v", me, err)
	}
	conn, err := script.Connect(ctx, client.ConnectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()

	if err := bob.RevokeToken(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := script.Me(ctx); !client.IsCode(err, client.CodeUnauthenticated) {
		t.Fatalf("me with the revoked token on node 1: %v, want unauthenticated", err)
	}
	for {
		_, err := conn.Read(ctx)
		if err == nil {
			continue
		}
		var ce *client.Error
		if !errors.As(err, &ce) || ce.CloseCode != 4001 {
			t.Fatalf("the token's socket on node 1 ended with %v, want close 4001", err)
		}
		break
	}
}
