package config

import (
	"encoding/base64"
	"flag"
	"net/url"
	"os"
	"strings"
	"time"
)

// AuditSigningKeyEnv holds the base64 Ed25519 seed that signs audit
// checkpoints; deliberately no flag, so it never shows in a process list.
const AuditSigningKeyEnv = "UNHIDRA_AUDIT_SIGNING_KEY"

// MaxAuditRetentionDays bounds --audit-retention-days (a hundred years).
const MaxAuditRetentionDays = 36500

// Audit configures the audit log (docs/audit.md).
type Audit struct {
	// SigningKey is UNHIDRA_AUDIT_SIGNING_KEY; SigningKeyFile a file
	// holding it instead. With neither, the node generates one in KeyDir
	// (audit-signing-key) and logs its public key.
	SigningKey     Secret
	SigningKeyFile string
	// CheckpointFile receives each checkpoint this node signs, one JSON
	// line each (default DATA/audit-checkpoints.jsonl; "-" disables).
	CheckpointFile string
	// CheckpointEvery and CheckpointInterval: a checkpoint after this many
	// entries, or this long after the last one.
	CheckpointEvery    int64
	CheckpointInterval time.Duration
	// RetentionDays is how many days entries are kept; 0 keeps them
	// forever. The chain lease holder prunes older ones every
	// --retention-every (docs/audit.md "Retention").
	RetentionDays int
	// Syslog is tcp://HOST:PORT or udp://HOST:PORT: every entry is
	// forwarded there as an RFC 5424 message (empty disables).
	Syslog string
}

func defaultAudit() Audit {
	return Audit{CheckpointEvery: 1000, CheckpointInterval: time.Minute}
}

func (a *Audit) flags(fs *flag.FlagSet) {
	fs.StringVar(&a.SigningKeyFile, "audit-signing-key-file", a.SigningKeyFile, "`FILE` (0600) with the base64 Ed25519 seed that signs audit checkpoints, the same on every node; or set "+AuditSigningKeyEnv+" (default: generated as audit-signing-key in the key dir)")
	fs.StringVar(&a.CheckpointFile, "audit-checkpoint-file", a.CheckpointFile, "`FILE` that each audit checkpoint this node signs is appended to, as a JSON line (default DATA/audit-checkpoints.jsonl; - disables)")
	fs.Int64Var(&a.CheckpointEvery, "audit-checkpoint-every", a.CheckpointEvery, "sign an audit checkpoint after this many `N` entries")
	fs.DurationVar(&a.CheckpointInterval, "audit-checkpoint-interval", a.CheckpointInterval, "sign an audit checkpoint at least this often while entries are added")
	fs.IntVar(&a.RetentionDays, "audit-retention-days", a.RetentionDays, "remove audit entries older than this many `DAYS`, a signed checkpoint at a time (0: keep forever; suspended while a legal hold exists)")
	fs.StringVar(&a.Syslog, "audit-syslog", a.Syslog, "forward every audit entry as RFC 5424 syslog to `tcp://HOST:PORT|udp://HOST:PORT` (empty disables)")
}

func (a *Audit) validate(bad func(format string, args ...any)) {
	if a.SigningKey != "" && a.SigningKeyFile != "" {
		bad("%s and --audit-signing-key-file are both set: give the key one way", AuditSigningKeyEnv)
	}
	if a.SigningKey != "" {
		// Never echoed: it is a key.
		if raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(a.SigningKey))); err != nil || len(raw) != 32 {
			bad("%s: want a 32-byte Ed25519 seed in base64 (make one with `openssl rand -base64 32`)", AuditSigningKeyEnv)
		}
	}
	if a.SigningKeyFile != "" {
		if _, err := os.Stat(a.SigningKeyFile); err != nil {
			bad("--audit-signing-key-file: %v", err)
		}
	}
	if a.CheckpointEvery < 1 {
		bad("--audit-checkpoint-every %d: want 1 or more", a.CheckpointEvery)
	}
	if a.CheckpointInterval < time.Second {
		bad("--audit-checkpoint-interval %s: want 1s or more", a.CheckpointInterval)
	}
	if a.RetentionDays < 0 || a.RetentionDays > MaxAuditRetentionDays {
		bad("--audit-retention-days %d: want 0 (keep forever) to %d", a.RetentionDays, MaxAuditRetentionDays)
	}
	if a.Syslog != "" {
		u, err := url.Parse(a.Syslog)
		if err != nil || (u.Scheme != "tcp" && u.Scheme != "udp") || u.Host == "" || u.Port() == "" || u.Path != "" {
			bad("--audit-syslog %q: want tcp://HOST:PORT or udp://HOST:PORT", a.Syslog)
		}
	}
}

// AuditCheckpointFile is the file checkpoints are appended to, or "" when
// disabled.
func (c Config) AuditCheckpointFile() string {
	switch c.Audit.CheckpointFile {
	case "-":
		return ""
	case "":
		return c.DataDir + string(os.PathSeparator) + "audit-checkpoints.jsonl"
	}
	return c.Audit.CheckpointFile
}
