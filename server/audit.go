package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/config"
	"github.com/unhidra/unhidra/store"
	"github.com/unhidra/unhidra/store/auditstore"
)

// auditKeyFile is the checkpoint signing key a node generates in its key
// dir when none is given.
const auditKeyFile = "audit-signing-key"

// LoadAuditKey returns the key that signs audit checkpoints:
// UNHIDRA_AUDIT_SIGNING_KEY, --audit-signing-key-file, or else (generate
// true) the audit-signing-key file of the key dir, created on first start.
// Never the database: whoever can rewrite the database must not be able to
// re-sign it. With generate false and none given, it returns nil.
func LoadAuditKey(cfg config.Config, generate bool, log *slog.Logger) (*audit.SigningKey, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch {
	case cfg.Audit.SigningKey != "":
		k, err := audit.ParseSigningKey(string(cfg.Audit.SigningKey))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", config.AuditSigningKeyEnv, err)
		}
		return k, nil
	case cfg.Audit.SigningKeyFile != "":
		return audit.ReadSigningKeyFile(cfg.Audit.SigningKeyFile)
	}
	path := filepath.Join(cfg.KeyDir(), auditKeyFile)
	if !generate {
		if _, err := os.Stat(path); err != nil {
			return nil, nil
		}
		return audit.ReadSigningKeyFile(path)
	}
	k, created, err := audit.LoadOrCreateSigningKeyFile(path)
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("generated the audit checkpoint signing key; every node needs the same one, and auditors its public key",
			slog.String("file", path), slog.String("env", config.AuditSigningKeyEnv))
	}
	return k, nil
}

// auditLog is a node's part in the audit log: its store, the chainer that
// runs while the node holds the lease, and the service the API uses.
type auditLog struct {
	store   *auditstore.Store
	chainer *auditstore.Chainer
	service *audit.Service
	key     *audit.SigningKey
	syslog  *audit.SyslogSender // nil unless --audit-syslog
	host    string
	log     *slog.Logger
	// retention is --audit-retention-days (0: keep forever); pruneEvery
	// --retention-every.
	retention, pruneEvery time.Duration
}

func newAuditLog(cfg config.Config, db *store.DB, log *slog.Logger) (*auditLog, error) {
	key, err := LoadAuditKey(cfg, true, log)
	if err != nil {
		return nil, fmt.Errorf("audit signing key: %w", err)
	}
	log.Info("audit checkpoints are signed with this Ed25519 public key", slog.String("key_id", key.ID), slog.String("public_key", key.PublicBase64()))
	host, _ := os.Hostname()
	nonce := make([]byte, 4)
	rand.Read(nonce)
	owner := fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(nonce))
	file := cfg.AuditCheckpointFile()
	ring := audit.Keyring{}
	ring.Add(key.Public())
	ch, err := auditstore.NewChainer(db, auditstore.ChainerOptions{
		Trusted:            ring,
		Owner:              owner,
		Key:                key,
		CheckpointEvery:    cfg.Audit.CheckpointEvery,
		CheckpointInterval: cfg.Audit.CheckpointInterval,
		OnCheckpoint: func(c *audit.Checkpoint) {
			if file == "" {
				return
			}
			if err := appendCheckpoint(file, c); err != nil {
				log.Warn("audit checkpoint export", slog.String("file", file), slog.Any("err", err))
			}
		},
		Logger: log,
	})
	if err != nil {
		return nil, err
	}
	st := auditstore.New(db)
	a := &auditLog{store: st, chainer: ch, service: audit.NewService(st, ring), key: key, host: host, log: log,
		retention: time.Duration(cfg.Audit.RetentionDays) * 24 * time.Hour, pruneEvery: cfg.RetentionEvery}
	if cfg.Audit.Syslog != "" {
		if a.syslog, err = audit.NewSyslogSender(cfg.Audit.Syslog); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// appendCheckpoint appends c to file as one JSON line, synced.
func appendCheckpoint(file string, c *audit.Checkpoint) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	_, werr := f.Write(append(b, '\n'))
	serr := f.Sync()
	if cerr := f.Close(); werr == nil && serr == nil {
		return cerr
	}
	if werr != nil {
		return werr
	}
	return serr
}

// run chains while ctx lasts and gives the lease up at the end, so that
// another node takes over at once.
func (a *auditLog) run(ctx context.Context) {
	if a.syslog != nil {
		go a.forward(ctx)
	}
	if a.retention > 0 {
		go a.prune(ctx)
	}
	a.chainer.Run(ctx)
	// What the last requests recorded is chained before leaving.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	for {
		if n, err := a.chainer.Step(dctx); err != nil || n == 0 {
			break
		}
	}
	_ = a.chainer.Release(dctx)
}

// prune removes the entries older than the retention while this node
// holds the chain lease, every pruneEvery (and soon after it takes the
// lease over). A prune that fails is retried at the next turn; one that a
// log that does not verify refused has been logged and audited already.
func (a *auditLog) prune(ctx context.Context) {
	t := time.NewTicker(min(a.pruneEvery, 10*time.Second))
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !a.chainer.Holding() || time.Since(last) < a.pruneEvery {
			continue
		}
		last = time.Now()
		res, err := a.chainer.Prune(ctx, last.Add(-a.retention))
		var perr *auditstore.PrefixError
		switch {
		case res.Held:
			a.log.Debug("audit retention suspended: a legal hold exists")
		case err == nil || errors.Is(err, auditstore.ErrNotHolding) || errors.As(err, &perr) || ctx.Err() != nil:
		default:
			a.log.Warn("audit prune failed; retrying at the next interval", slog.Any("err", err))
		}
	}
}

// forward sends the log to the syslog target while this node holds the
// chain lease, so that one node forwards at a time. A target that fails is
// retried after a pause; nothing is skipped.
func (a *auditLog) forward(ctx context.Context) {
	defer a.syslog.Close()
	pause := 500 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = 500 * time.Millisecond
		if !a.chainer.Holding() {
			continue
		}
		_, err := a.store.Forward(ctx, "syslog", func(e *audit.Entry) error { return a.syslog.Send(audit.FormatSyslog(e, a.host)) })
		if err != nil && ctx.Err() == nil {
			a.log.Warn("audit syslog forwarding; retrying", slog.Any("err", err))
			pause = 5 * time.Second
		}
	}
}
