package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/internal/testserver"
)

// call is one HTTP exchange with the API under test.
type call struct {
	t      testing.TB
	node   *testserver.Node
	method string
	path   string
	body   any
	header http.Header
}

type result struct {
	Status int
	Header http.Header
	Body   []byte
}

func newCall(t testing.TB, n *testserver.Node, method, path string) *call {
	return &call{t: t, node: n, method: method, path: path, header: http.Header{}}
}

func (c *call) json(v any) *call        { c.body = v; return c }
func (c *call) bearer(tok string) *call { c.header.Set("Authorization", "Bearer "+tok); return c }
func (c *call) with(k, v string) *call  { c.header.Add(k, v); return c }
func (c *call) raw(s string) *call      { c.body = rawBody(s); return c }

type rawBody string

func (c *call) do() *result {
	c.t.Helper()
	var rd io.Reader
	switch b := c.body.(type) {
	case nil:
	case rawBody:
		rd = strings.NewReader(string(b))
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			c.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(c.method, c.node.URL+c.path, rd)
	if err != nil {
		c.t.Fatalf("request: %v", err)
	}
	for k, vs := range c.header {
		req.Header[k] = vs
	}
	if rd != nil && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return &result{Status: resp.StatusCode, Header: resp.Header, Body: body}
}

// expect fails the test unless the status is want, and decodes the body into v.
func (c *call) expect(want int, v any) *result {
	c.t.Helper()
	r := c.do()
	if r.Status != want {
		c.t.Fatalf("%s %s: status %d, want %d; body %s", c.method, c.path, r.Status, want, r.Body)
	}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") && want/100 == 2 {
		noNulls(c.t, c.method+" "+c.path, r.Body)
	}
	if v != nil {
		if err := json.Unmarshal(r.Body, v); err != nil {
			c.t.Fatalf("%s %s: decode %s: %v", c.method, c.path, r.Body, err)
		}
	}
	return r
}

// noNulls fails the test when a JSON body holds a null anywhere: the
// API writes none (docs/api.md "Conventions"), and the web client's
// generated types (internal/tsgen) say so.
func noNulls(t testing.TB, what string, body []byte) {
	t.Helper()
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case nil:
			t.Errorf("%s: null at %s in %s", what, path, body)
		case map[string]any:
			for k, e := range v {
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		}
	}
	var v any
	if json.Unmarshal(body, &v) == nil {
		walk("$", v)
	}
}

// expectError fails unless the answer is the error code with status want.
func (c *call) expectError(want int, code string) *result {
	c.t.Helper()
	r := c.do()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || r.Status != want || e.Error.Code != code || e.Error.Message == "" {
		c.t.Fatalf("%s %s: got %d %s, want %d with code %q and a message", c.method, c.path, r.Status, r.Body, want, code)
	}
	return r
}

type user struct {
	ID          string `json:"id"`
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
	StatusText  string `json:"status_text"`
	Role        string `json:"role"`
	Disabled    bool   `json:"disabled"`
}

type tokens struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	ExpiresIn    int    `json:"expires_in"`
	SessionID    string `json:"session_id"`
	User         user   `json:"user"`
}

// bootstrapAdmin registers the admin with a setup token.
func bootstrapAdmin(t testing.TB, n *testserver.Node, username, password string) user {
	t.Helper()
	tok, needed, err := n.Auth.Bootstrap(t.Context())
	if err != nil || !needed {
		t.Fatalf("bootstrap: needed=%v err=%v", needed, err)
	}
	var out struct{ User user }
	newCall(t, n, "POST", "/api/v1/auth/register").
		json(map[string]string{"username": username, "password": password, "setup_token": tok}).
		expect(201, &out)
	return out.User
}

func register(t testing.TB, n *testserver.Node, username, password string) user {
	t.Helper()
	var out struct{ User user }
	newCall(t, n, "POST", "/api/v1/auth/register").
		json(map[string]string{"username": username, "password": password}).expect(201, &out)
	return out.User
}

func login(t testing.TB, n *testserver.Node, username, password string) tokens {
	t.Helper()
	var out tokens
	newCall(t, n, "POST", "/api/v1/auth/login").
		json(map[string]string{"username": username, "password": password}).expect(200, &out)
	return out
}
