package sso

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/unhidra/unhidra"
)

// Provider is one configured OpenID Connect provider (Okta, Entra ID,
// Keycloak, Google, or any other found by its discovery document).
type Provider struct {
	// ID names the provider in URLs and in stored identities: changing it
	// orphans every identity linked through it.
	ID string
	// Name is the label of the login button.
	Name string
	// Issuer is the issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer       string
	ClientID     string
	ClientSecret string
	// Scopes asked for; "openid" is always added. Default: openid profile email.
	Scopes []string
	// UsernameClaim is the ID-token claim a new account's username comes
	// from (DefaultUsernameClaim if empty); without it, the local part of
	// the email claim.
	UsernameClaim string
	// GroupsClaim names the claim holding the user's groups (a list of
	// strings, or one string); GroupRoles maps group names to system roles
	// (admin or member). When GroupRoles is non-empty the role is set at
	// every sign-in: admin if any group maps to admin, else member.
	GroupsClaim string
	GroupRoles  map[string]string
	// AllowSignup lets a first sign-in create an account (just-in-time
	// provisioning); without it, only identities already linked sign in.
	AllowSignup bool
}

// DefaultUsernameClaim is the claim new usernames come from by default.
const DefaultUsernameClaim = "preferred_username"

var providerIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Validate checks p and returns every problem at once, each naming the
// provider.
func (p *Provider) Validate() error {
	var errs []string
	bad := func(format string, args ...any) { errs = append(errs, fmt.Sprintf(format, args...)) }
	if !providerIDRE.MatchString(p.ID) {
		bad("id %q must be 1 to 32 characters of a-z, 0-9, '_' or '-', starting with a letter or digit", p.ID)
	}
	if strings.TrimSpace(p.Name) == "" {
		bad("name (the button label) is required")
	} else if err := unhidra.CheckText("name", p.Name, 64); err != nil {
		bad("name: %v", err)
	}
	if err := checkIssuer(p.Issuer); err != nil {
		bad("issuer: %v", err)
	}
	if p.ClientID == "" {
		bad("client_id is required")
	}
	for _, sc := range p.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\r\n\"\\") {
			bad("scope %q is not a valid scope token", sc)
		}
	}
	if p.GroupsClaim == "" && len(p.GroupRoles) > 0 {
		bad("group_roles needs groups_claim")
	}
	for g, r := range p.GroupRoles {
		if g == "" {
			bad("group_roles: empty group name")
		}
		if r != unhidra.RoleAdmin && r != unhidra.RoleMember {
			bad("group_roles: group %q maps to %q; roles are admin or member", g, r)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("oidc provider %q: %s", p.ID, strings.Join(errs, "; "))
}

// checkIssuer wants an absolute https URL, or http on a loopback host
// (tests, a provider on the same machine).
func checkIssuer(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute URL without query or fragment", s)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			return nil
		}
		return fmt.Errorf("%q: plain http only on loopback; use https", s)
	}
	return fmt.Errorf("%q: want an https URL", s)
}

// ParseGroupRoles parses the flag and environment form of a group → role
// map: comma-separated group=role pairs ("admins=admin,staff=member").
// Surrounding spaces are trimmed; a group may not contain ',' or '=' (use
// the config file's table form for such names).
func ParseGroupRoles(s string) (map[string]string, error) {
	out := map[string]string{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for pair := range strings.SplitSeq(s, ",") {
		g, r, ok := strings.Cut(pair, "=")
		g, r = strings.TrimSpace(g), strings.TrimSpace(r)
		switch {
		case !ok:
			return nil, fmt.Errorf("group roles: %q: want group=role", pair)
		case g == "":
			return nil, fmt.Errorf("group roles: %q: empty group name", pair)
		case r != unhidra.RoleAdmin && r != unhidra.RoleMember:
			return nil, fmt.Errorf("group roles: %q: role must be admin or member", pair)
		}
		if prev, dup := out[g]; dup && prev != r {
			return nil, fmt.Errorf("group roles: group %q maps to both %s and %s", g, prev, r)
		}
		out[g] = r
	}
	return out, nil
}

// scopes returns the scopes to request: openid first, then p's (or the
// default profile and email), without duplicates.
func (p *Provider) scopes() []string {
	in := p.Scopes
	if len(in) == 0 {
		in = []string{"profile", "email"}
	}
	out := []string{"openid"}
	for _, s := range in {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
