package auditstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strconv"
	"time"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/store"
)

// Retention (docs/audit.md "Retention"). Prune removes the oldest entries
// in transactions of at most PruneBatch entries, each of which:
//
//  1. locks the chain lease and goes on only if this node holds it, so
//     that it is serialized with chaining and one node prunes at a time;
//  2. stops if any legal hold exists (retention of the audit log is
//     suspended while one does: an entry about a held user or channel
//     could be anywhere in the prefix, and a prefix is all a prune can
//     remove without breaking the chain);
//  3. picks the newest checkpoint after the current anchor whose entry is
//     older than the cutoff, at most PruneBatch entries on (or the first
//     such checkpoint, if checkpoints are further apart);
//  4. checks the entries it is about to remove, from the anchor to that
//     checkpoint (audit.CheckPrefix): a log that does not verify is not
//     pruned, so that the prune never destroys the evidence of tampering
//     nor signs an anchor over a rewritten log;
//  5. inserts the signed anchor (the checkpoint's seq and hash) into
//     audit_prunes, then deletes the entries up to it and the checkpoints
//     before it, which the triggers allow only below that anchor (on
//     PostgreSQL, only in the transaction that inserted it), and records
//     an audit.prune event in the outbox.

// ErrNotHolding is Prune's answer on a node that does not hold the chain
// lease: only the lease holder prunes.
var ErrNotHolding = errors.New("audit prune: this node does not hold the chain lease")

// PruneResult is what a Prune did.
type PruneResult struct {
	// Through is the seq of the newest anchor afterwards: the log starts
	// after it (0 if nothing was ever pruned).
	Through int64
	// Entries is how many entries this call removed.
	Entries int64
	// Held is set when a legal hold suspended the prune.
	Held bool
}

// PrefixError is Prune's error when the entries it would remove do not
// verify: nothing is removed.
type PrefixError struct{ Bad audit.Bad }

func (e *PrefixError) Error() string {
	return fmt.Sprintf("audit prune refused: the entries to remove do not verify: entry %d: %s", e.Bad.Seq, e.Bad.Reason)
}

// Prune removes the entries older than before, a checkpoint at a time (see
// above), until none is left to remove or ctx ends. It runs only while
// this chainer holds the lease (ErrNotHolding otherwise).
func (ch *Chainer) Prune(ctx context.Context, before time.Time) (PruneResult, error) {
	var res PruneResult
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		n, through, held, err := ch.pruneBatch(ctx, before)
		res.Entries += n
		res.Through, res.Held = through, held
		var perr *PrefixError
		if errors.As(err, &perr) {
			ch.opts.Logger.Error("audit log not pruned: it does not verify", slog.Int64("seq", perr.Bad.Seq), slog.String("reason", perr.Bad.Reason))
			// Recorded on its own: the prune's transaction rolled back.
			ev := &audit.Event{Action: audit.ActionAuditPrune, ActorType: audit.ActorSystem, TargetType: "audit_log",
				Result: audit.ResultFailed, Reason: "log_does_not_verify",
				Metadata: map[string]string{"seq": strconv.FormatInt(perr.Bad.Seq, 10)}, Time: ch.opts.Now()}
			if rerr := ch.db.InTx(ctx, func(c store.Conn) error { return Append(ctx, c, ev) }); rerr != nil {
				err = errors.Join(err, rerr)
			}
		}
		if err != nil || n == 0 {
			if res.Entries > 0 {
				ch.opts.Logger.Info("audit log pruned", slog.Int64("entries", res.Entries), slog.Int64("through_seq", res.Through))
			}
			return res, err
		}
	}
}

// pruneBatch makes one prune transaction and returns how many entries it
// removed and the newest anchor after it.
func (ch *Chainer) pruneBatch(ctx context.Context, before time.Time) (n, through int64, held bool, err error) {
	now := ch.opts.Now()
	err = ch.db.InTx(ctx, func(c store.Conn) error {
		n, through, held = 0, 0, false
		owner, expires, err := ch.lease(ctx, c, true)
		if err != nil {
			return err
		}
		if owner != ch.opts.Owner || !now.Before(expires) {
			return ErrNotHolding
		}
		after, prev, err := anchorHead(ctx, c)
		if err != nil {
			return err
		}
		through = after
		var one int
		switch err := c.QueryRow(ctx, `SELECT 1 FROM legal_holds LIMIT 1`).Scan(&one); {
		case err == nil:
			held = true
			return nil
		case !errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("legal holds: %w", err)
		}
		cp, err := pruneBoundary(ctx, c, after, after+ch.opts.PruneBatch, before)
		if err != nil || cp == nil {
			return err
		}
		bad, err := audit.CheckPrefix(entriesOn(ctx, c, after), after, prev, cp, ch.trusted)
		if err != nil {
			return err
		}
		if bad != nil {
			return &PrefixError{Bad: *bad}
		}
		a := &audit.PruneAnchor{Seq: cp.Seq, Hash: cp.Hash, Time: now.UTC().Truncate(time.Microsecond)}
		ch.opts.Key.SignAnchor(a)
		// The anchor first: the triggers let the deletes below it through.
		if _, err := c.Exec(ctx, `INSERT INTO audit_prunes (through_seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
			a.Seq, []byte(a.Hash), store.Micros(a.Time), a.KeyID, a.Signature); err != nil {
			return fmt.Errorf("audit prune anchor: %w", err)
		}
		if n, err = c.ExecN(ctx, `DELETE FROM audit_log WHERE seq > ? AND seq <= ?`, after, a.Seq); err != nil {
			return fmt.Errorf("audit prune: %w", err)
		}
		if _, err := c.Exec(ctx, `DELETE FROM audit_checkpoints WHERE seq < ?`, a.Seq); err != nil {
			return fmt.Errorf("audit prune checkpoints: %w", err)
		}
		through = a.Seq
		hash, _ := a.Hash.MarshalText()
		return Append(ctx, c, &audit.Event{Action: audit.ActionAuditPrune, ActorType: audit.ActorSystem, TargetType: "audit_log",
			Metadata: map[string]string{
				"through_seq":  strconv.FormatInt(a.Seq, 10),
				"through_hash": string(hash),
				"entries":      strconv.FormatInt(n, 10),
				"before":       before.UTC().Truncate(time.Second).Format(time.RFC3339),
			}, Time: now})
	})
	if err != nil {
		return 0, through, false, err
	}
	return n, through, held, nil
}

// pruneBoundary returns the newest checkpoint with after < seq <= limit
// whose entry is older than before, or else the oldest one after after
// whose entry is older than before (checkpoints further apart than the
// batch), or nil.
func pruneBoundary(ctx context.Context, c store.Conn, after, limit int64, before time.Time) (*audit.Checkpoint, error) {
	const q = `SELECT c.seq, c.hash, c.at, c.key_id, c.signature FROM audit_checkpoints c JOIN audit_log l ON l.seq = c.seq
		WHERE c.seq > ? AND c.seq <= ? AND l.at < ? ORDER BY c.seq `
	scan := func(sc store.Scanner) (*audit.Checkpoint, error) {
		var cp audit.Checkpoint
		var at int64
		if err := sc.Scan(&cp.Seq, &cp.Hash, &at, &cp.KeyID, &cp.Signature); err != nil {
			return nil, err
		}
		cp.Time = store.Time(at)
		return &cp, nil
	}
	cp, err := scan(c.QueryRow(ctx, q+`DESC LIMIT 1`, after, limit, store.Micros(before)))
	if errors.Is(err, sql.ErrNoRows) {
		cp, err = scan(c.QueryRow(ctx, q+`LIMIT 1`, after, int64(1)<<62, store.Micros(before)))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("audit prune boundary: %w", err)
	}
	return cp, nil
}

// entriesOn streams the log after seq after through c (the prune's own
// transaction), a page per query.
func entriesOn(ctx context.Context, c store.Conn, after int64) iter.Seq2[*audit.Entry, error] {
	return func(yield func(*audit.Entry, error) bool) {
		for {
			rows, err := c.Query(ctx, `SELECT `+logColumns+` FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, after, pageSize)
			if err != nil {
				yield(nil, fmt.Errorf("audit log: %w", err))
				return
			}
			page, err := store.Collect(rows, "audit log", scanEntry)
			if err != nil {
				yield(nil, err)
				return
			}
			for _, e := range page {
				if !yield(e, nil) {
					return
				}
				after = e.Seq
			}
			if len(page) < pageSize {
				return
			}
		}
	}
}
