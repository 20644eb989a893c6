package config

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func load(t *testing.T, args []string, env map[string]string) (Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return Load(fs, args, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
}

func TestDefaultsAreValid(t *testing.T) {
	c, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.DataDir != "./data" || c.Registration != "open" || c.RefreshGrace != 30*time.Second ||
		c.RateLogin.String() != "10/min" || c.RateRegister.String() != "5/h" || c.RateWSMsg.String() != "50/s" {
		t.Fatalf("defaults = %+v", c)
	}
	if !strings.HasPrefix(c.DatabaseURL(), "sqlite:///") || !strings.HasSuffix(c.DatabaseURL(), "/data/unhidra.db") {
		t.Fatalf("database URL = %q", c.DatabaseURL())
	}
}

func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "unhidra.toml")
	os.WriteFile(file, []byte(`
addr = "127.0.0.1:9000"
rate-login = "20/min"
registration = "invite"
allowed-origins = ["https://a.example", "https://b.example"]
refresh-grace = "10s"
`), 0o600)
	env := map[string]string{
		"UNHIDRA_CONFIG":       file,
		"UNHIDRA_RATE_LOGIN":   "30/min", // env beats the file
		"UNHIDRA_REGISTRATION": "closed",
		"UNHIDRA_PUBLIC_URL":   "https://chat.example",
	}
	c, err := load(t, []string{"--registration", "open"}, env) // the flag beats env
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.RateLogin.String() != "30/min" || c.Registration != "open" ||
		len(c.AllowedOrigins) != 2 || c.RefreshGrace != 10*time.Second || c.Issuer() != "https://chat.example" || !c.SecureCookies() {
		t.Fatalf("config = %+v", c)
	}
	if c.ConfigFile != file {
		t.Fatalf("ConfigFile = %q", c.ConfigFile)
	}
}

func TestSetButEmptyCountsAsSet(t *testing.T) {
	c, err := load(t, nil, map[string]string{"UNHIDRA_MQTT_ADDR": ""})
	if err != nil {
		t.Fatal(err)
	}
	if c.MQTTAddr != "" {
		t.Fatalf("empty UNHIDRA_MQTT_ADDR did not disable the broker: %q", c.MQTTAddr)
	}
}

func TestEveryErrorAtOnce(t *testing.T) {
	_, err := load(t, nil, map[string]string{
		"UNHIDRA_ADDR":          "nonsense",
		"UNHIDRA_REGISTRATION":  "sometimes",
		"UNHIDRA_LOG_FORMAT":    "xml",
		"UNHIDRA_DB":            "mysql://x",
		"UNHIDRA_BUS":           "amqp://127.0.0.1:5672",
		"UNHIDRA_PUBLIC_URL":    "chat.example",
		"UNHIDRA_TLS_CERT":      "/nonexistent.pem",
		"UNHIDRA_ARGON2_MEMORY": "1024",
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"--addr", "--registration", "--log-format", "--db", "--bus", "--public-url", "--tls-cert and --tls-key", "--argon2-memory"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
}

func TestBusURL(t *testing.T) {
	for _, u := range []string{"", "nats://127.0.0.1:4222", "nats://a:4222,nats://b:4222", "tls://nats.example:4222", "redis://127.0.0.1:6379", "rediss://cache.example:6380/2"} {
		c, err := load(t, []string{"--bus", u}, nil)
		if err != nil {
			t.Errorf("--bus %q: %v", u, err)
		} else if c.Bus != u {
			t.Errorf("--bus %q loaded as %q", u, c.Bus)
		}
	}
	for _, u := range []string{"127.0.0.1:4222", "nats://", "nats://a:4222,", "redis://", "redis://a:6379,nats://b:4222", "http://x:1"} {
		if _, err := load(t, []string{"--bus", u}, nil); err == nil || !strings.Contains(err.Error(), "--bus") {
			t.Errorf("--bus %q: %v, want an error about --bus", u, err)
		}
	}
}

func TestBadValuesFromEveryPlace(t *testing.T) {
	file := filepath.Join(t.TempDir(), "bad.toml")
	os.WriteFile(file, []byte("rate-login = \"lots\"\nno-such-setting = 1\n"), 0o600)
	_, err := load(t, nil, map[string]string{"UNHIDRA_CONFIG": file, "UNHIDRA_RATE_REGISTER": "5 per hour", "UNHIDRA_TRUSTED_PROXIES": "10.0.0.0/33"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"rate-login", "no-such-setting", "UNHIDRA_RATE_REGISTER", "UNHIDRA_TRUSTED_PROXIES"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %s:\n%v", want, err)
		}
	}
	bad := filepath.Join(t.TempDir(), "syntax.toml")
	os.WriteFile(bad, []byte("addr = \n"), 0o600)
	if _, err := load(t, []string{"--config", bad}, nil); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("syntax error in the file not reported: %v", err)
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("rate-login"); got != "UNHIDRA_RATE_LOGIN" {
		t.Fatal(got)
	}
}

func TestMetricsAddr(t *testing.T) {
	c, err := load(t, nil, map[string]string{"UNHIDRA_METRICS_ADDR": "127.0.0.1:9100"})
	if err != nil || c.MetricsAddr != "127.0.0.1:9100" {
		t.Fatalf("UNHIDRA_METRICS_ADDR: %q, %v", c.MetricsAddr, err)
	}
	file := filepath.Join(t.TempDir(), "unhidra.toml")
	os.WriteFile(file, []byte(`metrics-addr = "127.0.0.1:9101"`), 0o600)
	if c, err := load(t, []string{"--config", file}, nil); err != nil || c.MetricsAddr != "127.0.0.1:9101" {
		t.Fatalf("metrics-addr in the config file: %q, %v", c.MetricsAddr, err)
	}
	if _, err := load(t, []string{"--metrics-addr", "nope"}, nil); err == nil || !strings.Contains(err.Error(), "--metrics-addr") {
		t.Fatalf("bad --metrics-addr: %v", err)
	}
}

// TestKeyEncryptionKey: the key comes from UNHIDRA_KEY_ENCRYPTION_KEY or a
// file, not both; a bad value is refused without being echoed; a printed
// config never shows it.
func TestKeyEncryptionKey(t *testing.T) {
	good := "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=" // 32 bytes
	c, err := load(t, nil, map[string]string{KeyEncryptionKeyEnv: good})
	if err != nil {
		t.Fatal(err)
	}
	if string(c.KeyEncryptionKey) != good {
		t.Fatalf("KeyEncryptionKey not read from %s", KeyEncryptionKeyEnv)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if out := fmt.Sprintf(verb, c); strings.Contains(out, good) {
			t.Errorf("%s of the config shows the key", verb)
		}
	}

	bad := "c2VjcmV0LWJ1dC1zaG9ydA=="
	_, err = load(t, nil, map[string]string{KeyEncryptionKeyEnv: bad})
	if err == nil || !strings.Contains(err.Error(), KeyEncryptionKeyEnv) {
		t.Fatalf("a 17-byte key: %v", err)
	}
	if strings.Contains(err.Error(), bad) {
		t.Errorf("the error echoes the key: %v", err)
	}

	file := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(file, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = load(t, []string{"--key-encryption-key-file", file}, nil)
	if err != nil || c.KeyEncryptionKeyFile != file {
		t.Fatalf("--key-encryption-key-file: %v", err)
	}
	_, err = load(t, []string{"--key-encryption-key-file", file}, map[string]string{KeyEncryptionKeyEnv: good})
	if err == nil || !strings.Contains(err.Error(), "both set") {
		t.Fatalf("both given: %v", err)
	}
	_, err = load(t, []string{"--key-encryption-key-file", file + ".missing"}, nil)
	if err == nil {
		t.Fatal("a missing key file was accepted")
	}
}

func TestAuditRetentionDays(t *testing.T) {
	c, err := load(t, nil, map[string]string{"UNHIDRA_AUDIT_RETENTION_DAYS": "400"})
	if err != nil || c.Audit.RetentionDays != 400 {
		t.Fatalf("UNHIDRA_AUDIT_RETENTION_DAYS=400: %d, %v", c.Audit.RetentionDays, err)
	}
	if c, err := load(t, nil, nil); err != nil || c.Audit.RetentionDays != 0 {
		t.Fatalf("default: %d, %v (want 0, keep forever)", c.Audit.RetentionDays, err)
	}
	for _, v := range []string{"-1", "36501", "1y"} {
		if _, err := load(t, []string{"--audit-retention-days", v}, nil); err == nil || !strings.Contains(err.Error(), "audit-retention-days") {
			t.Errorf("--audit-retention-days %s: %v", v, err)
		}
	}
}
