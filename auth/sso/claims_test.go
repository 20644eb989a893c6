package sso

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/unhidra/unhidra/auth"
)

func TestUsernameFromClaims(t *testing.T) {
	for _, tc := range []struct {
		name   string
		claims string
		claim  string
		want   string
	}{
		{"preferred_username", `{"preferred_username":"alice","email":"x@y"}`, "", "alice"},
		{"email fallback", `{"email":"bob.b@example.com"}`, "", "bob.b"},
		{"custom claim", `{"upn":"carol@corp.example","preferred_username":"c"}`, "upn", "carol"},
		{"custom claim missing falls back to email", `{"email":"dan@x"}`, "upn", "dan"},
		{"spaces and accents", `{"preferred_username":"Élodie Durand"}`, "", "lodie-Durand"},
		{"too short", `{"preferred_username":"x","email":"y@z"}`, "", "user-"},
		{"not a string", `{"preferred_username":42}`, "", "user-"},
		{"long", `{"preferred_username":"` + strings.Repeat("a", 60) + `"}`, "", strings.Repeat("a", maxBase)},
		{"trailing punctuation", `{"preferred_username":"-.eve._"}`, "", "eve"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var claims map[string]any
			if err := json.Unmarshal([]byte(tc.claims), &claims); err != nil {
				t.Fatal(err)
			}
			got := UsernameFromClaims(claims, tc.claim, "subject-1")
			if !strings.HasPrefix(got, tc.want) || (tc.want != "user-" && got != tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			if err := auth.ValidateUsername(got); err != nil {
				t.Fatalf("%q: %v", got, err)
			}
		})
	}
}

// FuzzUsernameFromClaims feeds the mapping ID-token claims as a provider
// could send them: whatever they hold, the result is a valid username with
// room for a collision suffix.
func FuzzUsernameFromClaims(f *testing.F) {
	for _, s := range []string{
		`{"preferred_username":"alice"}`, `{"email":"bob@example.com"}`, `{"preferred_username":"Ünïcødé 名前"}`,
		`{"preferred_username":"a@b@c"}`, `{"email":"@"}`, `{"preferred_username":"\u0000\u202e"}`, `{}`,
		`{"preferred_username":["x"]}`, `{"upn":"x.y@corp"}`,
	} {
		f.Add(s, "", "sub")
		f.Add(s, "upn", "sub")
	}
	f.Fuzz(func(t *testing.T, raw, claim, subject string) {
		var claims map[string]any
		if json.Unmarshal([]byte(raw), &claims) != nil {
			return
		}
		got := UsernameFromClaims(claims, claim, subject)
		if err := auth.ValidateUsername(got); err != nil {
			t.Fatalf("UsernameFromClaims(%s, %q) = %q: %v", raw, claim, got, err)
		}
		if len(got) > maxBase {
			t.Fatalf("%q leaves no room for a suffix", got)
		}
		if err := auth.ValidateUsername(got + "-20"); err != nil {
			t.Fatalf("%q with a suffix: %v", got, err)
		}
	})
}

func TestParseGroupRoles(t *testing.T) {
	got, err := ParseGroupRoles(" admins = admin , staff=member,admins=admin")
	if err != nil || len(got) != 2 || got["admins"] != "admin" || got["staff"] != "member" {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := ParseGroupRoles(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v, %v", got, err)
	}
	for _, bad := range []string{"admins", "=admin", "admins=root", "a=admin,a=member", "a=admin,"} {
		if _, err := ParseGroupRoles(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// FuzzParseGroupRoles: any input parses to a map whose roles are admin or
// member and whose groups are non-empty, or fails with an error; never a
// panic.
func FuzzParseGroupRoles(f *testing.F) {
	for _, s := range []string{"admins=admin", "a=admin,b=member", " x = member ", "", "=", ",,", "a=b=c", "a=admin,a=member"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseGroupRoles(s)
		if err != nil {
			return
		}
		for g, r := range m {
			if g == "" || (r != "admin" && r != "member") {
				t.Fatalf("ParseGroupRoles(%q) = %v", s, m)
			}
		}
	})
}

func TestRoleFromGroups(t *testing.T) {
	m := map[string]string{"a": "admin", "m": "member"}
	for _, tc := range []struct {
		groups []string
		want   string
	}{{nil, "member"}, {[]string{"m"}, "member"}, {[]string{"m", "a"}, "admin"}, {[]string{"x"}, "member"}} {
		if got, ok := RoleFromGroups(tc.groups, m); !ok || got != tc.want {
			t.Errorf("%v: %s %v", tc.groups, got, ok)
		}
	}
	if _, ok := RoleFromGroups([]string{"a"}, nil); ok {
		t.Error("no mapping must leave the role alone")
	}
	claims := map[string]any{"g": []any{"a", 1, "b"}, "s": "one"}
	if g := Groups(claims, "g"); len(g) != 2 {
		t.Errorf("Groups list = %v", g)
	}
	if g := Groups(claims, "s"); len(g) != 1 || g[0] != "one" {
		t.Errorf("Groups string = %v", g)
	}
}

func TestProviderValidate(t *testing.T) {
	ok := Provider{ID: "okta", Name: "Okta", Issuer: "https://example.okta.com", ClientID: "c"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Provider){
		"bad id":         func(p *Provider) { p.ID = "Okta!" },
		"no name":        func(p *Provider) { p.Name = " " },
		"http issuer":    func(p *Provider) { p.Issuer = "http://example.com" },
		"no client":      func(p *Provider) { p.ClientID = "" },
		"bad role":       func(p *Provider) { p.GroupsClaim, p.GroupRoles = "groups", map[string]string{"g": "root"} },
		"roles no claim": func(p *Provider) { p.GroupRoles = map[string]string{"g": "admin"} },
		"bad scope":      func(p *Provider) { p.Scopes = []string{"a b"} },
	} {
		p := ok
		mut(&p)
		err := p.Validate()
		if err == nil || !strings.Contains(err.Error(), `"`+p.ID+`"`) {
			t.Errorf("%s: %v, want an error naming the provider", name, err)
		}
	}
	loop := ok
	loop.Issuer = "http://127.0.0.1:5556/dex"
	if err := loop.Validate(); err != nil {
		t.Errorf("loopback http: %v", err)
	}
}
