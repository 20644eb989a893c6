// Package config defines the typed configuration of `unhidra serve` and loads
// it from, in increasing precedence, built-in defaults, an optional TOML
// config file, UNHIDRA_* environment variables and command-line flags.
//
// Every flag has exactly one environment variable, named after it
// (--rate-login is UNHIDRA_RATE_LOGIN), and one config-file key, the flag's
// name (rate-login = "10/min"). A variable that is set but empty counts as
// set. Load reports every problem at once rather than stopping at the first.
package config

import (
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/unhidra/unhidra"
	"github.com/unhidra/unhidra/bus"
	"github.com/unhidra/unhidra/clientip"
	"github.com/unhidra/unhidra/ratelimit"
)

// Config is the whole configuration of one server node.
type Config struct {
	Addr      string // listen address for HTTP(S)
	DataDir   string // where the embedded defaults keep their state
	DB        string // database URL; empty means SQLite in DataDir
	Bus       string // event bus URL: empty means in-process, nats://… a NATS server, redis://… Redis Streams
	Files     string // file storage URL; empty means disk in DataDir
	MQTTAddr  string // embedded MQTT broker address; empty disables it
	PublicURL string // the URL browsers use: JWT issuer, cookie and Origin defaults

	TLSCert string
	TLSKey  string

	AllowedOrigins []string
	Registration   string
	// PasswordLogin is "on" or "sso-only" (auth.PasswordLogin*): under
	// sso-only only break-glass accounts sign in with a password.
	PasswordLogin  string
	TrustedProxies []netip.Prefix

	AccessTTL    time.Duration // lifetime of an access token
	SessionTTL   time.Duration // idle lifetime of a session (refresh token family)
	RefreshGrace time.Duration // window in which a repeated refresh is not reuse

	JWTKeyDir   string   // where generated signing keys live; default DataDir/keys
	JWTKeyFiles []string // operator-managed PEM keys (first is active); overrides JWTKeyDir

	// KeyEncryptionKey is UNHIDRA_KEY_ENCRYPTION_KEY, the base64 key that
	// seals the keys kept in the database; deliberately no flag, so that it
	// never shows in a process list. Secret keeps it out of printed configs.
	KeyEncryptionKey Secret
	// KeyEncryptionKeyFile is a file holding that key instead. With
	// neither, the node generates one in KeyDir (kek).
	KeyEncryptionKeyFile string

	// Audit configures the audit log (audit.go).
	Audit Audit

	Argon2Memory      uint32 // KiB
	Argon2Iterations  uint32
	Argon2Parallelism uint8
	PasswordMinLength int

	RateLogin          ratelimit.Spec
	RateRegister       ratelimit.Spec
	RateDeviceRegister ratelimit.Spec
	RateWSIP           ratelimit.Spec
	RateWSUser         ratelimit.Spec
	RateWSMsg          ratelimit.Spec
	// RateKeysFetch limits end-to-end key bundle fetches per (requester,
	// target user), RateKeysFetchUser per requester, RateToDevice
	// to-device sends per user; all shared by the nodes.
	RateKeysFetch     ratelimit.Spec
	RateKeysFetchUser ratelimit.Spec
	RateToDevice      ratelimit.Spec
	// WSMaxPerUser caps one user's open WebSockets across the nodes (0: no cap).
	WSMaxPerUser int
	// PresenceTTL is how long a node's presence entries live in the shared
	// bus KV without a heartbeat (TTL/3); PresenceBucket names the KV
	// bucket (NATS) or key infix (Redis) the nodes of an install share.
	PresenceTTL    time.Duration
	PresenceBucket string

	MaxBodyBytes    int64
	MaxFileSize     int64
	ShutdownTimeout time.Duration
	// EraseDelay is how soon after a deletion SQLite's write-ahead log is
	// checkpointed and truncated, so that deleted content leaves the disk.
	EraseDelay time.Duration
	// RetentionDays is how long messages are kept in channels without a
	// retention of their own (0: forever); RetentionEvery how often each
	// node sweeps expired messages.
	RetentionDays  int
	RetentionEvery time.Duration

	// DebugAddr, when set, serves Go's pprof profiles on a separate
	// listener (keep it on loopback: profiles reveal internals).
	DebugAddr string
	// MetricsAddr, when set, serves /metrics only on this separate listener;
	// empty serves it, unauthenticated, on the main listener.
	MetricsAddr string

	LogFormat string // text or json
	LogLevel  string // debug, info, warn, error

	// OIDC lists the single sign-on providers ([[oidc]] tables of the
	// config file; config/oidc.go).
	OIDC []OIDCProvider

	// ConfigFile is the file the configuration was read from, if any.
	ConfigFile string
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	must := func(s string) ratelimit.Spec {
		spec, err := ratelimit.ParseSpec(s)
		if err != nil {
			panic(err) // the defaults below are constants
		}
		return spec
	}
	return Config{
		Addr:               ":8080",
		DataDir:            "./data",
		MQTTAddr:           ":1883",
		Registration:       unhidra.RegistrationOpen,
		PasswordLogin:      "on",
		AccessTTL:          15 * time.Minute,
		SessionTTL:         30 * 24 * time.Hour,
		RefreshGrace:       30 * time.Second,
		Argon2Memory:       19456,
		Argon2Iterations:   2,
		Argon2Parallelism:  1,
		PasswordMinLength:  15,
		RateLogin:          must("10/min"),
		RateRegister:       must("5/h"),
		RateDeviceRegister: must("10/h"),
		RateWSIP:           must("60/min"),
		RateWSUser:         must("30/min"),
		RateWSMsg:          must("50/s"),
		RateKeysFetch:      must("20/h"),
		RateKeysFetchUser:  must("1200/h"),
		RateToDevice:       must("120/min"),
		WSMaxPerUser:       200,
		PresenceTTL:        30 * time.Second,
		PresenceBucket:     "unhidra_presence",
		MaxBodyBytes:       1 << 20,
		MaxFileSize:        100 << 20,
		ShutdownTimeout:    15 * time.Second,
		EraseDelay:         5 * time.Second,
		RetentionEvery:     time.Hour,
		LogFormat:          "text",
		LogLevel:           "info",
		Audit:              defaultAudit(),
	}
}

// Flags registers every setting of c on fs, with c's current values as
// defaults. The config-file and environment names derive from these names.
func (c *Config) Flags(fs *flag.FlagSet) {
	fs.StringVar(&c.Addr, "addr", c.Addr, "`HOST:PORT` to listen on")
	fs.StringVar(&c.DataDir, "data", c.DataDir, "data `DIR` for the embedded database, files and keys")
	fs.StringVar(&c.DB, "db", c.DB, "database `URL`: empty for SQLite in the data dir, or postgres://…")
	fs.StringVar(&c.Bus, "bus", c.Bus, "event bus `URL`: empty for in-process (one node); for several nodes nats://HOST:4222 (comma-separated for a cluster) or redis://HOST:6379[/DB]")
	fs.StringVar(&c.Files, "files", c.Files, "file storage `URL`: empty for disk in the data dir, or s3://…; "+notActive("file uploads"))
	fs.StringVar(&c.MQTTAddr, "mqtt-addr", c.MQTTAddr, "embedded MQTT broker `HOST:PORT`; empty disables it; "+notActive("devices")+": accepted and ignored")
	fs.StringVar(&c.PublicURL, "public-url", c.PublicURL, "public `URL` browsers use (JWT issuer, cookies, Origin default)")
	fs.StringVar(&c.TLSCert, "tls-cert", c.TLSCert, "TLS certificate `FILE` (PEM)")
	fs.StringVar(&c.TLSKey, "tls-key", c.TLSKey, "TLS private key `FILE` (PEM)")
	fs.Var((*listValue)(&c.AllowedOrigins), "allowed-origins", "comma-separated `ORIGINS` allowed to open WebSockets and use cookies")
	fs.StringVar(&c.Registration, "registration", c.Registration, "who may register: `open|invite|closed`")
	fs.StringVar(&c.PasswordLogin, "password-login", c.PasswordLogin, "password sign-in: `on|sso-only` (sso-only: only break-glass accounts, see unhidra admin break-glass)")
	fs.Var((*prefixesValue)(&c.TrustedProxies), "trusted-proxies", "comma-separated `CIDRS` whose X-Forwarded-For is believed")
	fs.DurationVar(&c.AccessTTL, "access-ttl", c.AccessTTL, "lifetime of an access token")
	fs.DurationVar(&c.SessionTTL, "session-ttl", c.SessionTTL, "a session ends after this long without a refresh")
	fs.DurationVar(&c.RefreshGrace, "refresh-grace", c.RefreshGrace, "window in which repeating a refresh is not reuse (0 disables)")
	fs.StringVar(&c.JWTKeyDir, "jwt-key-dir", c.JWTKeyDir, "`DIR` of the generated key-encryption key and of signing keys from before they moved into the database (default DATA/keys)")
	fs.Var((*listValue)(&c.JWTKeyFiles), "jwt-key-files", "comma-separated PEM private key `FILES` (first signs); overrides --jwt-key-dir")
	fs.StringVar(&c.KeyEncryptionKeyFile, "key-encryption-key-file", c.KeyEncryptionKeyFile, "`FILE` (0600) with the base64 key that seals the keys kept in the database, the same on every node; or set "+KeyEncryptionKeyEnv+" (default: generated as kek in the key dir)")
	fs.Var((*uint32Value)(&c.Argon2Memory), "argon2-memory", "Argon2id memory in `KiB`")
	fs.Var((*uint32Value)(&c.Argon2Iterations), "argon2-iterations", "Argon2id iterations")
	fs.Var((*uint8Value)(&c.Argon2Parallelism), "argon2-parallelism", "Argon2id parallelism")
	fs.IntVar(&c.PasswordMinLength, "password-min-length", c.PasswordMinLength, "minimum password length in characters")
	fs.Var(&c.RateLogin, "rate-login", "logins per client IP (`N/s|N/min|N/h`, 0 disables)")
	fs.Var(&c.RateRegister, "rate-register", "registrations per client IP")
	fs.Var(&c.RateDeviceRegister, "rate-device-register", "device registrations per client IP; "+notActive("devices"))
	fs.Var(&c.RateWSIP, "rate-ws-ip", "new WebSocket connections per client IP")
	fs.Var(&c.RateWSUser, "rate-ws-user", "new WebSocket connections per user")
	fs.Var(&c.RateWSMsg, "rate-ws-msg", "WebSocket frames per connection")
	fs.Var(&c.RateKeysFetch, "rate-keys-fetch", "end-to-end key bundle fetches per requester and target user, shared by the nodes (each takes one of the target's one-time prekeys)")
	fs.Var(&c.RateKeysFetchUser, "rate-keys-fetch-user", "end-to-end key bundle fetches per requester, shared by the nodes")
	fs.Var(&c.RateToDevice, "rate-to-device", "to-device sends (POST /api/v1/to-device) per user, shared by the nodes")
	fs.IntVar(&c.WSMaxPerUser, "ws-max-per-user", c.WSMaxPerUser, "most open WebSockets of one user across the nodes (`N`, 0 disables); one more is refused with 429")
	fs.DurationVar(&c.PresenceTTL, "presence-ttl", c.PresenceTTL, "how long a node's presence entries outlive its last heartbeat (every TTL/3): a node killed without a goodbye shows its users for up to TTL*4/3; the same on every node")
	fs.StringVar(&c.PresenceBucket, "presence-bucket", c.PresenceBucket, "`NAME` of the presence KV bucket on the bus (letters, digits, - and _), the same on every node of an install")
	fs.Int64Var(&c.MaxBodyBytes, "max-body", c.MaxBodyBytes, "largest JSON request body in `BYTES`")
	fs.Int64Var(&c.MaxFileSize, "max-file-size", c.MaxFileSize, "largest file upload in `BYTES`; "+notActive("file uploads"))
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", c.ShutdownTimeout, "how long in-flight requests may take to finish at shutdown")
	fs.IntVar(&c.RetentionDays, "retention-days", c.RetentionDays, "delete messages older than this many `DAYS` in channels without a retention of their own (0: keep forever)")
	fs.DurationVar(&c.RetentionEvery, "retention-every", c.RetentionEvery, "how often each node deletes expired messages (and the audit chain lease holder prunes expired audit entries)")
	fs.DurationVar(&c.EraseDelay, "erase-delay", c.EraseDelay, "SQLite: how soon after a deletion the write-ahead log is checkpointed and truncated, so deleted content leaves the disk")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", c.MetricsAddr, "serve /metrics only on this `HOST:PORT` instead of the main listener, where it is public; empty serves it on the main listener")
	fs.StringVar(&c.DebugAddr, "debug-addr", c.DebugAddr, "serve /debug/pprof/ on this `HOST:PORT` (keep it on loopback); empty disables")
	fs.StringVar(&c.LogFormat, "log-format", c.LogFormat, "log format: `text|json`")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: `debug|info|warn|error`")
	c.Audit.flags(fs)
}

// notActive is the help text of a flag that is parsed (so config files
// that set it stay valid) but whose feature does not exist yet.
func notActive(feature string) string {
	return "not active yet (arrives with " + feature + ")"
}

// EnvName is the environment variable that sets flag name.
func EnvName(name string) string {
	return "UNHIDRA_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Load builds a Config from defaults, the config file (--config or
// UNHIDRA_CONFIG), the environment (lookupEnv, usually os.LookupEnv) and args,
// then validates it. The returned error joins every problem found. Flags the
// caller registered on fs beforehand (a subcommand's own) are parsed too and
// read their UNHIDRA_* variables the same way.
func Load(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) (Config, error) {
	c := Default()
	c.Flags(fs)
	var configFile string
	fs.StringVar(&configFile, "config", "", "optional TOML config `FILE` whose keys are flag names")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	onCommandLine := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { onCommandLine[f.Name] = true })

	var errs []error
	if !onCommandLine["config"] {
		if v, ok := lookupEnv(EnvName("config")); ok {
			configFile = v
		}
	}
	if configFile != "" {
		c.ConfigFile = configFile
		errs = append(errs, applyFile(fs, configFile, onCommandLine)...)
		providers, oerrs := loadOIDC(configFile, lookupEnv)
		c.OIDC = providers
		errs = append(errs, oerrs...)
	}
	fs.VisitAll(func(f *flag.Flag) {
		if onCommandLine[f.Name] || f.Name == "config" {
			return
		}
		if v, ok := lookupEnv(EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
		}
	})
	if v, ok := lookupEnv(KeyEncryptionKeyEnv); ok {
		c.KeyEncryptionKey = Secret(v)
	}
	if v, ok := lookupEnv(AuditSigningKeyEnv); ok {
		c.Audit.SigningKey = Secret(v)
	}
	if len(errs) == 0 {
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	return c, errors.Join(errs...)
}

// applyFile sets every flag named in the TOML file at path, unless the command
// line already set it (the environment is applied afterwards and wins).
func applyFile(fs *flag.FlagSet, path string, onCommandLine map[string]bool) []error {
	raw := map[string]any{}
	if _, err := toml.DecodeFile(path, &raw); err != nil {
		return []error{fmt.Errorf("config file %s: %w", path, err)}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		if k == oidcKey {
			continue // [[oidc]] tables: loadOIDC
		}
		if fs.Lookup(k) == nil || k == "config" {
			errs = append(errs, fmt.Errorf("config file %s: unknown setting %q", path, k))
			continue
		}
		if onCommandLine[k] {
			continue
		}
		var s string
		switch v := raw[k].(type) {
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			s = strings.Join(parts, ",")
		default:
			s = fmt.Sprint(v)
		}
		if err := fs.Set(k, s); err != nil {
			errs = append(errs, fmt.Errorf("config file %s: %s: %w", path, k, err))
		}
	}
	return errs
}

// Validate checks c and returns every problem at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("--addr %q: want HOST:PORT", c.Addr)
	}
	if c.MQTTAddr != "" {
		if _, _, err := net.SplitHostPort(c.MQTTAddr); err != nil {
			bad("--mqtt-addr %q: want HOST:PORT or empty", c.MQTTAddr)
		}
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			bad("--debug-addr %q: want HOST:PORT or empty", c.DebugAddr)
		}
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			bad("--metrics-addr %q: want HOST:PORT or empty", c.MetricsAddr)
		}
	}
	if c.DataDir == "" {
		bad("--data must not be empty")
	}
	if c.RetentionDays < 0 || c.RetentionDays > 36500 {
		bad("--retention-days %d: want 0 (keep forever) to 36500", c.RetentionDays)
	}
	if c.RetentionEvery < time.Second || c.RetentionEvery > 24*time.Hour {
		bad("--retention-every %s: want 1s to 24h", c.RetentionEvery)
	}
	if c.EraseDelay <= 0 || c.EraseDelay > 30*time.Second {
		bad("--erase-delay %s: want more than 0 and at most 30s (deleted content must leave the disk within a minute)", c.EraseDelay)
	}
	if c.WSMaxPerUser < 0 {
		bad("--ws-max-per-user %d: want 0 (no cap) or more", c.WSMaxPerUser)
	}
	if c.PresenceTTL < time.Second || c.PresenceTTL > 10*time.Minute {
		bad("--presence-ttl %s: want 1s to 10m", c.PresenceTTL)
	}
	if err := bus.CheckKVOptions(bus.KVOptions{Name: c.PresenceBucket, TTL: time.Second}); err != nil {
		bad("--presence-bucket %q: want 1 to 64 letters, digits, '-' or '_'", c.PresenceBucket)
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") && !strings.HasPrefix(c.DB, "sqlite://") {
		bad("--db %q: want postgres://…, sqlite://… or empty for SQLite in the data dir", c.DB)
	}
	if c.Bus != "" && !validBusURL(c.Bus) {
		bad("--bus %q: want nats://HOST:PORT (or tls://…, comma-separated for a cluster), redis://HOST:PORT[/DB] (or rediss://…), or empty for the in-process bus", c.Bus)
	}
	if c.Files != "" {
		bad("--files %q: only disk storage in the data dir is available in this version", c.Files)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("--public-url %q: want an absolute http:// or https:// URL", c.PublicURL)
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("--tls-cert and --tls-key go together")
	}
	for _, f := range []string{c.TLSCert, c.TLSKey} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				bad("TLS file %s: %v", f, err)
			}
		}
	}
	for _, f := range c.JWTKeyFiles {
		if _, err := os.Stat(f); err != nil {
			bad("--jwt-key-files: %v", err)
		}
	}
	if c.KeyEncryptionKey != "" && c.KeyEncryptionKeyFile != "" {
		bad("%s and --key-encryption-key-file are both set: give the key one way", KeyEncryptionKeyEnv)
	}
	if c.KeyEncryptionKey != "" {
		// The value is never echoed: it is a key.
		if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(c.KeyEncryptionKey))); err != nil || len(raw) != 32 {
			bad("%s: want 32 random bytes in base64 (make them with `openssl rand -base64 32`)", KeyEncryptionKeyEnv)
		}
	}
	if c.KeyEncryptionKeyFile != "" {
		if _, err := os.Stat(c.KeyEncryptionKeyFile); err != nil {
			bad("--key-encryption-key-file: %v", err)
		}
	}
	c.Audit.validate(bad)
	for _, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if o == "*" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" {
			bad("--allowed-origins: %q is not an origin like https://chat.example.com", o)
		}
	}
	switch c.Registration {
	case unhidra.RegistrationOpen, unhidra.RegistrationInvite, unhidra.RegistrationClosed:
	default:
		bad("--registration %q: want open, invite or closed", c.Registration)
	}
	if c.PasswordLogin != "on" && c.PasswordLogin != "sso-only" {
		bad("--password-login %q: want on or sso-only", c.PasswordLogin)
	}
	if c.AccessTTL < time.Minute || c.AccessTTL > 24*time.Hour {
		bad("--access-ttl %s: want between 1m and 24h", c.AccessTTL)
	}
	if c.SessionTTL < c.AccessTTL {
		bad("--session-ttl %s must not be shorter than --access-ttl %s", c.SessionTTL, c.AccessTTL)
	}
	if c.RefreshGrace < 0 || c.RefreshGrace > 5*time.Minute {
		bad("--refresh-grace %s: want between 0 and 5m", c.RefreshGrace)
	}
	if c.Argon2Memory < 19456 {
		bad("--argon2-memory %d: at least 19456 KiB (OWASP minimum)", c.Argon2Memory)
	}
	if c.Argon2Iterations < 2 {
		bad("--argon2-iterations %d: at least 2", c.Argon2Iterations)
	}
	if c.Argon2Parallelism < 1 {
		bad("--argon2-parallelism must be at least 1")
	}
	if c.PasswordMinLength < 8 || c.PasswordMinLength > 128 {
		bad("--password-min-length %d: want between 8 and 128", c.PasswordMinLength)
	}
	if c.MaxBodyBytes < 1024 {
		bad("--max-body %d: want at least 1024", c.MaxBodyBytes)
	}
	if c.MaxFileSize < 1 {
		bad("--max-file-size must be positive")
	}
	if c.ShutdownTimeout <= 0 {
		bad("--shutdown-timeout must be positive")
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("--log-format %q: want text or json", c.LogFormat)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	if err := c.validateOIDC(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// DatabaseURL is the database to open: --db, or SQLite in the data dir.
func (c *Config) DatabaseURL() string {
	if c.DB != "" {
		return c.DB
	}
	abs, err := filepath.Abs(filepath.Join(c.DataDir, "unhidra.db"))
	if err != nil {
		abs = filepath.Join(c.DataDir, "unhidra.db")
	}
	return "sqlite://" + abs
}

// KeyEncryptionKeyEnv is the environment variable of the key-encryption
// key (Config.KeyEncryptionKey).
const KeyEncryptionKeyEnv = "UNHIDRA_KEY_ENCRYPTION_KEY"

// Secret is a configuration value that must not be printed: fmt shows it
// as [redacted].
type Secret string

// String hides the value.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return "[redacted]"
}

// GoString hides the value from %#v too.
func (s Secret) GoString() string { return `"` + s.String() + `"` }

// KeyDir is where generated token signing keys (of a single node, or of an
// earlier version) and the generated key-encryption key are kept.
func (c *Config) KeyDir() string {
	if c.JWTKeyDir != "" {
		return c.JWTKeyDir
	}
	return filepath.Join(c.DataDir, "keys")
}

// Issuer is the JWT issuer: the public URL, or "unhidra" when none is set.
func (c *Config) Issuer() string {
	if c.PublicURL != "" {
		return strings.TrimRight(c.PublicURL, "/")
	}
	return "unhidra"
}

// SecureCookies reports whether cookies must carry the Secure attribute.
func (c *Config) SecureCookies() bool {
	return c.TLSCert != "" || strings.HasPrefix(c.PublicURL, "https://")
}

type listValue []string

func (l *listValue) String() string { return strings.Join(*l, ",") }
func (l *listValue) Set(s string) error {
	*l = nil
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l = append(*l, p)
		}
	}
	return nil
}

type prefixesValue []netip.Prefix

func (p *prefixesValue) String() string {
	parts := make([]string, len(*p))
	for i, x := range *p {
		parts[i] = x.String()
	}
	return strings.Join(parts, ",")
}
func (p *prefixesValue) Set(s string) error {
	v, err := clientip.ParseCIDRs(s)
	if err != nil {
		return err
	}
	*p = v
	return nil
}

type uint32Value uint32

func (u *uint32Value) String() string { return fmt.Sprint(uint32(*u)) }
func (u *uint32Value) Set(s string) error {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 32)
	if err != nil {
		return fmt.Errorf("want a whole number, got %q", s)
	}
	*u = uint32Value(v)
	return nil
}

type uint8Value uint8

func (u *uint8Value) String() string { return fmt.Sprint(uint8(*u)) }
func (u *uint8Value) Set(s string) error {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 8)
	if err != nil {
		return fmt.Errorf("want a whole number from 0 to 255, got %q", s)
	}
	*u = uint8Value(v)
	return nil
}

// validBusURL accepts one redis:// or rediss:// URL, or one or more
// comma-separated nats:// or tls:// URLs (a NATS cluster).
func validBusURL(s string) bool {
	if pu, err := url.Parse(s); err == nil && (pu.Scheme == "redis" || pu.Scheme == "rediss") {
		return pu.Host != "" && !strings.Contains(s, ",")
	}
	for _, u := range strings.Split(s, ",") {
		pu, err := url.Parse(strings.TrimSpace(u))
		if err != nil || (pu.Scheme != "nats" && pu.Scheme != "tls") || pu.Host == "" {
			return false
		}
	}
	return true
}
