package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/server"
	"github.com/unhidra/unhidra/store/auditstore"
)

// repeated collects a repeated flag.
type repeated []string

func (r *repeated) String() string     { return fmt.Sprint(*r) }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// adminAudit runs `unhidra admin audit verify|export`, which read the
// database directly with the operator's rights (no server needed).
func adminAudit(ctx context.Context, args []string, stdout, stderr io.Writer, lookupEnv env) error {
	if len(args) == 0 {
		return errors.New("want a subcommand: audit verify or audit export")
	}
	switch args[0] {
	case "verify":
		var pubs repeated
		var cpFile string
		cfg, err := loadConfig("admin audit verify", args[1:], stderr, lookupEnv, func(fs *flag.FlagSet) {
			fs.Var(&pubs, "public-key", "base64 Ed25519 public `KEY` whose checkpoints to trust (repeatable; default: the node's signing key)")
			fs.StringVar(&cpFile, "checkpoints", "", "JSON-lines `FILE` of exported checkpoints to check the log against (default: --audit-checkpoint-file, if it exists)")
		})
		if err != nil {
			return err
		}
		ring := audit.Keyring{}
		for _, p := range pubs {
			k, err := audit.ParsePublicKey(p)
			if err != nil {
				return fmt.Errorf("--public-key: %w", err)
			}
			ring.Add(k)
		}
		if len(pubs) == 0 {
			k, err := server.LoadAuditKey(cfg, false, nil)
			if err != nil {
				return err
			}
			if k == nil {
				return errors.New("no key to check checkpoints with: give --public-key, or the node's signing key (" + "UNHIDRA_AUDIT_SIGNING_KEY or --audit-signing-key-file)")
			}
			ring.Add(k.Public())
		}
		if cpFile == "" {
			if f := cfg.AuditCheckpointFile(); f != "" {
				if _, err := os.Stat(f); err == nil {
					cpFile = f
				}
			}
		}
		var ext []*audit.Checkpoint
		if cpFile != "" {
			if ext, err = readCheckpoints(cpFile); err != nil {
				return err
			}
		}
		db, err := server.OpenStore(ctx, cfg, newLogger(cfg, stderr), false)
		if err != nil {
			return err
		}
		defer db.Close()
		st := auditstore.New(db)
		rep, err := audit.Verify(ctx, st, ring, ext)
		if err != nil {
			return err
		}
		if !rep.OK {
			return fmt.Errorf("the audit log does not verify: entry %d: %s (%d entries checked before it)", rep.FirstBad.Seq, rep.FirstBad.Reason, rep.Checked)
		}
		pruned := ""
		if rep.PrunedThrough > 0 {
			// Where an export starts: the docs' script takes the seq and
			// hash of the newest anchor.
			var hash audit.Hex
			for a, err := range st.Anchors(ctx) {
				if err != nil {
					return err
				}
				hash = a.Hash
			}
			h, _ := hash.MarshalText()
			pruned = fmt.Sprintf(", starting after entry %d %s (pruned by retention; %d signed prune anchors)", rep.PrunedThrough, h, rep.Prunes)
		}
		fmt.Fprintf(stdout, "audit log ok: %d entries, %d checkpoints, %d exported checkpoints checked%s, in the %s\n", rep.Checked, rep.Checkpoints, len(ext), pruned, describeDB(cfg))
		return nil
	case "export":
		var after int64
		cfg, err := loadConfig("admin audit export", args[1:], stderr, lookupEnv, func(fs *flag.FlagSet) {
			fs.Int64Var(&after, "after", 0, "export the entries after this `SEQ`")
		})
		if err != nil {
			return err
		}
		db, err := server.OpenStore(ctx, cfg, newLogger(cfg, stderr), false)
		if err != nil {
			return err
		}
		defer db.Close()
		w := bufio.NewWriter(stdout)
		enc := json.NewEncoder(w)
		for e, err := range auditstore.New(db).Entries(ctx, after) {
			if err != nil {
				return err
			}
			if err := enc.Encode(e); err != nil {
				return err
			}
		}
		return w.Flush()
	}
	return fmt.Errorf("unknown admin audit command %q: want verify or export", args[0])
}

// readCheckpoints reads a JSON-lines file of checkpoints.
func readCheckpoints(path string) ([]*audit.Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	defer f.Close()
	var out []*audit.Checkpoint
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var c audit.Checkpoint
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, fmt.Errorf("checkpoints %s line %d: %w", path, n, err)
		}
		out = append(out, &c)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("checkpoints: %w", err)
	}
	return out, nil
}
