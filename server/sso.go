package server

import (
	"log/slog"
	"strings"

	"github.com/unhidra/unhidra/auth"
	"github.com/unhidra/unhidra/auth/passkey"
	"github.com/unhidra/unhidra/auth/sso"
	"github.com/unhidra/unhidra/config"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
	"github.com/unhidra/unhidra/store/authstore"
)

// NewSSO builds the single sign-on service of the configured [[oidc]]
// providers, or nil when there are none.
func NewSSO(cfg config.Config, db *store.DB, a *auth.Service, log *slog.Logger) (*sso.Service, error) {
	if len(cfg.OIDC) == 0 {
		return nil, nil
	}
	providers := make([]sso.Provider, len(cfg.OIDC))
	for i := range cfg.OIDC {
		providers[i] = cfg.OIDC[i].SSOProvider()
	}
	return sso.New(sso.Config{Providers: providers, Store: authstore.New(db), Auth: a, Logger: log})
}

// NewPasskeys builds passkey sign-in: always on (an account without
// passkeys simply has none to use); the relying party is --public-url.
func NewPasskeys(cfg config.Config, db *store.DB, a *auth.Service, log *slog.Logger) (*passkey.Service, error) {
	return passkey.New(passkey.Config{Store: authstore.New(db), Auth: a, Audit: auditstore.New(db),
		PublicURL: strings.TrimRight(cfg.PublicURL, "/"), Logger: log})
}
