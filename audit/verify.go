package audit

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"iter"
	"slices"
)

// Source is what Verify reads: the log, its checkpoints and its prune
// anchors, each in ascending seq, streamed (nothing is held in memory but
// the current row).
type Source interface {
	// Entries yields the log's entries in ascending seq.
	Entries(ctx context.Context, after int64) iter.Seq2[*Entry, error]
	// Checkpoints yields the stored checkpoints in ascending seq.
	Checkpoints(ctx context.Context) iter.Seq2[*Checkpoint, error]
	// Anchors yields the prune anchors in ascending seq (none while
	// nothing was ever pruned).
	Anchors(ctx context.Context) iter.Seq2[*PruneAnchor, error]
}

// Bad names the first entry (or checkpoint) that does not check out.
type Bad struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

// Report is the outcome of Verify.
type Report struct {
	OK          bool  `json:"ok"`
	Checked     int64 `json:"checked"`
	LastSeq     int64 `json:"last_seq"`
	Checkpoints int64 `json:"checkpoints"`
	// PrunedThrough is the seq of the last entry retention removed (the
	// newest anchor's): the walk starts after it. Prunes counts the
	// anchors checked.
	PrunedThrough int64 `json:"pruned_through,omitempty" doc:"the last entry retention removed: verification starts from its signed anchor"`
	Prunes        int64 `json:"prunes,omitempty" doc:"signed prune anchors checked"`
	FirstBad      *Bad  `json:"first_bad,omitempty"`
}

// Verify walks the whole log and checks, entry by entry, that seqs run
// on without a gap, that each prev_hash is the hash of the entry before,
// and that each hash is Hash(seq, event, prev_hash); then that every
// checkpoint, the stored ones and the exported ones given in external, is
// signed by a key in trusted and matches the entry at its seq, which must
// still exist (so a truncated tail is found against any checkpoint
// exported before the truncation). An edited entry fails its hash, a
// deleted one leaves a gap, a reordered pair breaks the links.
//
// The walk starts at entry 1 with the zero hash, or, once retention has
// pruned the log, after the newest prune anchor with its hash: every
// anchor must be signed by a key in trusted (so a prefix deleted by anyone
// without the key is a gap at entry 1, or an anchor that does not verify),
// and a checkpoint at an anchor's seq must match it; checkpoints before
// it name pruned entries and are skipped. The error is for failures to
// read; a log that does not verify is a Report with OK false.
func Verify(ctx context.Context, src Source, trusted Keyring, external []*Checkpoint) (*Report, error) {
	rep := &Report{}
	fail := func(seq int64, format string, args ...any) (*Report, error) {
		rep.FirstBad = &Bad{Seq: seq, Reason: fmt.Sprintf(format, args...)}
		return rep, nil
	}
	prev := ZeroHash()
	var last int64
	for a, err := range src.Anchors(ctx) {
		if err != nil {
			return nil, err
		}
		if err := trusted.CheckAnchor(a); err != nil {
			return fail(a.Seq, "prune anchor at %d: %v: entries 1 to %d were deleted without a signed prune", a.Seq, err, a.Seq)
		}
		if a.Seq <= last {
			return fail(a.Seq, "prune anchor at %d comes after one at %d", a.Seq, last)
		}
		rep.Prunes++
		last, prev = a.Seq, a.Hash
	}
	rep.PrunedThrough = last
	next, stop := iter.Pull2(src.Checkpoints(ctx))
	defer stop()
	cp, cerr, more := next()
	if cerr != nil {
		return nil, cerr
	}
	// Exported checkpoints are checked against the same walk: they are
	// few (one per N entries), sorted here once.
	ext := sortedCheckpoints(external)
	// Checkpoints of pruned entries: the one at the anchor must agree
	// with it, the older ones are past checking.
	for more && cp.Seq <= last {
		if cp.Seq == last {
			if bad := checkCheckpoint(trusted, cp, last, prev); bad != "" {
				return fail(cp.Seq, "checkpoint at %d: %s", cp.Seq, bad)
			}
			rep.Checkpoints++
		}
		if cp, cerr, more = next(); cerr != nil {
			return nil, cerr
		}
	}
	for len(ext) > 0 && ext[0].Seq <= last {
		if ext[0].Seq == last {
			if bad := checkCheckpoint(trusted, ext[0], last, prev); bad != "" {
				return fail(ext[0].Seq, "exported checkpoint at %d: %s", ext[0].Seq, bad)
			}
		}
		ext = ext[1:]
	}
	for e, err := range src.Entries(ctx, last) {
		if err != nil {
			return nil, err
		}
		if bad := checkEntry(e, last, prev); bad != nil {
			rep.FirstBad = bad
			return rep, nil
		}
		rep.Checked++
		last, prev = e.Seq, e.Hash
		for more && cp.Seq <= last {
			if bad := checkCheckpoint(trusted, cp, last, e.Hash); bad != "" {
				return fail(cp.Seq, "checkpoint at %d: %s", cp.Seq, bad)
			}
			rep.Checkpoints++
			if cp, cerr, more = next(); cerr != nil {
				return nil, cerr
			}
		}
		for len(ext) > 0 && ext[0].Seq <= last {
			if bad := checkCheckpoint(trusted, ext[0], last, e.Hash); bad != "" {
				return fail(ext[0].Seq, "exported checkpoint at %d: %s", ext[0].Seq, bad)
			}
			ext = ext[1:]
		}
	}
	rep.LastSeq = last
	if more {
		return fail(cp.Seq, "the log ends at entry %d but a checkpoint names entry %d: the log was truncated", last, cp.Seq)
	}
	if len(ext) > 0 {
		return fail(ext[0].Seq, "the log ends at entry %d but an exported checkpoint names entry %d: the log was truncated", last, ext[0].Seq)
	}
	rep.OK = true
	return rep, nil
}

// checkCheckpoint checks c against the entry at seq, whose hash is hash;
// c.Seq < seq means the entry it names was skipped (not in the log).
func checkCheckpoint(trusted Keyring, c *Checkpoint, seq int64, hash []byte) string {
	if c.Seq != seq {
		return fmt.Sprintf("names entry %d, which the log does not hold", c.Seq)
	}
	if err := trusted.Check(c); err != nil {
		return err.Error()
	}
	if !bytes.Equal(c.Hash, hash) {
		return "the entry's hash differs from the signed one: the log was rewritten"
	}
	return ""
}

func sortedCheckpoints(cs []*Checkpoint) []*Checkpoint {
	out := slices.Clone(cs)
	slices.SortFunc(out, func(a, b *Checkpoint) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}
