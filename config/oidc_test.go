package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestOIDCProvidersFromConfigFile(t *testing.T) {
	secret := writeFile(t, "secret", "from-file\n")
	path := writeFile(t, "unhidra.toml", `
registration = "closed"

[[oidc]]
id = "okta"
name = "Okta"
issuer = "https://example.okta.com"
client_id = "unhidra"
client_secret_file = "`+secret+`"
groups_claim = "groups"
group_roles = { "chat-admins" = "admin" }
allow_signup = true

[[oidc]]
id = "google"
name = "Google"
issuer = "https://accounts.google.com"
client_id = "g"
client_secret_env = "GOOGLE_SECRET"
scopes = ["email"]
groups_claim = "groups"
group_roles = "admins=admin, staff=member"
username_claim = "email"
`)
	c, err := load(t, []string{"--config", path}, map[string]string{"GOOGLE_SECRET": "from-env"})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.OIDC) != 2 {
		t.Fatalf("providers = %+v", c.OIDC)
	}
	okta, google := c.OIDC[0].SSOProvider(), c.OIDC[1].SSOProvider()
	if okta.ClientSecret != "from-file" || okta.GroupRoles["chat-admins"] != "admin" || !okta.AllowSignup {
		t.Errorf("okta = %+v", okta)
	}
	if google.ClientSecret != "from-env" || google.UsernameClaim != "email" || google.AllowSignup || google.GroupRoles["staff"] != "member" {
		t.Errorf("google = %+v", google)
	}
	if c.Registration != "closed" {
		t.Errorf("the flags of the same file: registration = %q", c.Registration)
	}
}

func TestOIDCConfigErrorsNameTheProvider(t *testing.T) {
	path := writeFile(t, "unhidra.toml", `
[[oidc]]
id = "kc"
name = "Keycloak"
issuer = "http://keycloak.example.com/realms/x"
client_id = "u"
client_secret = "a"
group_roles = { "g" = "root" }

[[oidc]]
id = "kc"
name = "Again"
issuer = "https://kc.example.com"
client_id = "u"
`)
	_, err := load(t, []string{"--config", path}, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`oidc provider "kc"`, `plain http only on loopback`, `maps to "root"`, `configured twice`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}

	// Mistakes in the file itself are reported before validation.
	path = writeFile(t, "bad.toml", `
[[oidc]]
id = "kc"
client_secret = "a"
client_secret_env = "B"
colour = "blue"
`)
	_, err = load(t, []string{"--config", path}, nil)
	for _, want := range []string{`unknown setting "colour" in [[oidc]]`, `oidc provider "kc": set only one`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
}
