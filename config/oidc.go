package config

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/unhidra/unhidra/auth/sso"
)

// OIDCProvider is one [[oidc]] table of the config file: a single sign-on
// provider. Providers exist only in the config file (a list of tables does
// not fit a flag). The client secret comes from client_secret, or better
// the file client_secret_file, or the environment variable
// client_secret_env names; exactly one of them.
type OIDCProvider struct {
	ID               string     `toml:"id"`
	Name             string     `toml:"name"`
	Issuer           string     `toml:"issuer"`
	ClientID         string     `toml:"client_id"`
	ClientSecret     Secret     `toml:"client_secret"`
	ClientSecretFile string     `toml:"client_secret_file"`
	ClientSecretEnv  string     `toml:"client_secret_env"`
	Scopes           []string   `toml:"scopes"`
	UsernameClaim    string     `toml:"username_claim"`
	GroupsClaim      string     `toml:"groups_claim"`
	GroupRoles       GroupRoles `toml:"group_roles"`
	AllowSignup      bool       `toml:"allow_signup"`
}

// GroupRoles maps group names to system roles. In the file it is a table
// (group_roles = { "admins" = "admin" }) or a string in the form of
// sso.ParseGroupRoles (group_roles = "admins=admin,staff=member"), which
// fits templated configs that can only fill in one string.
type GroupRoles map[string]string

// UnmarshalTOML accepts the table and the string form.
func (g *GroupRoles) UnmarshalTOML(v any) error {
	switch v := v.(type) {
	case string:
		m, err := sso.ParseGroupRoles(v)
		if err != nil {
			return err
		}
		*g = m
	case map[string]any:
		m := make(GroupRoles, len(v))
		for group, role := range v {
			r, ok := role.(string)
			if !ok {
				return fmt.Errorf("group roles: group %q: the role must be a string", group)
			}
			m[group] = r
		}
		*g = m
	default:
		return fmt.Errorf("group roles: want a table of group = role, or a string group=role,…")
	}
	return nil
}

// oidcKey is the config-file key of the provider tables.
const oidcKey = "oidc"

// loadOIDC reads the [[oidc]] tables of the config file and resolves each
// provider's secret; unknown keys inside a table are errors, as elsewhere
// in the file.
func loadOIDC(path string, lookupEnv func(string) (string, bool)) ([]OIDCProvider, []error) {
	var file struct {
		OIDC []OIDCProvider `toml:"oidc"`
	}
	md, err := toml.DecodeFile(path, &file)
	if err != nil {
		return nil, []error{fmt.Errorf("config file %s: %w", path, err)}
	}
	var errs []error
	for _, k := range md.Undecoded() {
		if len(k) > 1 && k[0] == oidcKey {
			errs = append(errs, fmt.Errorf("config file %s: unknown setting %q in [[oidc]]", path, k[len(k)-1]))
		}
	}
	for i := range file.OIDC {
		p := &file.OIDC[i]
		n := 0
		for _, set := range []bool{p.ClientSecret != "", p.ClientSecretFile != "", p.ClientSecretEnv != ""} {
			if set {
				n++
			}
		}
		switch {
		case n > 1:
			errs = append(errs, fmt.Errorf("config file %s: oidc provider %q: set only one of client_secret, client_secret_file and client_secret_env", path, p.ID))
		case p.ClientSecretFile != "":
			b, err := os.ReadFile(p.ClientSecretFile)
			if err != nil {
				errs = append(errs, fmt.Errorf("config file %s: oidc provider %q: client_secret_file: %w", path, p.ID, err))
			}
			p.ClientSecret = Secret(strings.TrimSpace(string(b)))
		case p.ClientSecretEnv != "":
			v, ok := lookupEnv(p.ClientSecretEnv)
			if !ok {
				errs = append(errs, fmt.Errorf("config file %s: oidc provider %q: client_secret_env: %s is not set", path, p.ID, p.ClientSecretEnv))
			}
			p.ClientSecret = Secret(v)
		}
	}
	return file.OIDC, errs
}

// SSOProvider is the provider as package sso takes it.
func (p *OIDCProvider) SSOProvider() sso.Provider {
	return sso.Provider{
		ID: p.ID, Name: p.Name, Issuer: p.Issuer, ClientID: p.ClientID, ClientSecret: string(p.ClientSecret),
		Scopes: p.Scopes, UsernameClaim: p.UsernameClaim, GroupsClaim: p.GroupsClaim,
		GroupRoles: p.GroupRoles, AllowSignup: p.AllowSignup,
	}
}

// validateOIDC checks every provider, and that ids are unique.
func (c *Config) validateOIDC() error {
	var errs []error
	seen := map[string]bool{}
	for i := range c.OIDC {
		p := c.OIDC[i].SSOProvider()
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[p.ID] {
			errs = append(errs, fmt.Errorf("oidc provider %q: configured twice", p.ID))
		}
		seen[p.ID] = true
	}
	return errors.Join(errs...)
}
