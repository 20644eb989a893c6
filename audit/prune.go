package audit

import (
	"bytes"
	"fmt"
	"iter"
	"time"
)

// Retention. A prune removes the oldest entries, always a prefix of the
// log that ends at a signed checkpoint, and leaves in their place a
// PruneAnchor: a statement, signed with the checkpoint key, that the
// entries up to Seq were removed and that entry Seq had hash Hash. The
// first kept entry links to that hash, so verification starts from the
// newest anchor instead of from entry 1. Without the key nobody can make
// an anchor, so deleting entries any other way (a prefix included) still
// leaves a gap, and an anchor that someone else wrote does not verify.

// pruneText labels an anchor's signed bytes; a checkpoint's signature,
// over another label, is never a valid anchor.
const pruneText = "unhidra.audit.prune.v1"

// PruneAnchor is the signed record of a prune: entries 1 to Seq are gone,
// and entry Seq had hash Hash.
type PruneAnchor struct {
	Seq       int64     `json:"through_seq"`
	Hash      Hex       `json:"hash"`
	Time      time.Time `json:"time"`
	KeyID     string    `json:"key_id"`
	Signature []byte    `json:"signature"`
}

// SignedBytes returns what the anchor's signature covers: the fields
// "unhidra.audit.prune.v1", seq (decimal), the 32-byte hash, time (unix
// microseconds, decimal) and key id, laid out as a checkpoint's.
func (a *PruneAnchor) SignedBytes() []byte {
	return signedStatement(pruneText, a.Seq, a.Hash, a.Time, a.KeyID)
}

// SignAnchor fills a.KeyID and a.Signature.
func (k *SigningKey) SignAnchor(a *PruneAnchor) {
	a.KeyID = k.ID
	a.Signature = k.sign(a.SignedBytes())
}

// CheckAnchor verifies a's signature against the keyring.
func (r Keyring) CheckAnchor(a *PruneAnchor) error {
	if len(a.Hash) != len(zeroHash) {
		return fmt.Errorf("the hash is %d bytes, not %d", len(a.Hash), len(zeroHash))
	}
	return r.check(a.KeyID, a.SignedBytes(), a.Signature)
}

// checkEntry checks e as the entry after the one with seq last and hash
// prev, and returns what is wrong with it, or nil.
func checkEntry(e *Entry, last int64, prev []byte) *Bad {
	bad := func(seq int64, format string, args ...any) *Bad {
		return &Bad{Seq: seq, Reason: fmt.Sprintf(format, args...)}
	}
	want := last + 1
	switch {
	case e.Seq > want:
		return bad(want, "entry %d is missing (the next entry is %d): entries were deleted", want, e.Seq)
	case e.Seq < want:
		return bad(e.Seq, "entry %d appears out of order after entry %d", e.Seq, last)
	case !bytes.Equal(e.PrevHash, prev):
		return bad(e.Seq, "entry %d does not link to entry %d (prev_hash differs): entries were edited, reordered or replaced", e.Seq, last)
	case !bytes.Equal(Hash(e.Seq, &e.Event, e.PrevHash), e.Hash):
		return bad(e.Seq, "entry %d does not match its hash: it was edited", e.Seq)
	}
	return nil
}

// CheckPrefix checks the entries a prune is about to delete: those after
// seq after (whose hash is prev: the newest anchor's, or the zero hash)
// up to the checkpoint through, in entries (ascending seq, starting after
// after). They must run without a gap, link and match their hashes, and
// through must be signed by a trusted key and match its entry. A pruner
// calls it first, so that it neither destroys the evidence of tampering
// nor signs an anchor over a rewritten log. It returns the first entry
// that fails, or nil; the error is for failures to read.
func CheckPrefix(entries iter.Seq2[*Entry, error], after int64, prev []byte, through *Checkpoint, trusted Keyring) (*Bad, error) {
	last := after
	for e, err := range entries {
		if err != nil {
			return nil, err
		}
		if e.Seq > through.Seq {
			break
		}
		if bad := checkEntry(e, last, prev); bad != nil {
			return bad, nil
		}
		last, prev = e.Seq, e.Hash
		if last == through.Seq {
			break
		}
	}
	if bad := checkCheckpoint(trusted, through, last, prev); bad != "" {
		if last < through.Seq {
			return &Bad{Seq: last + 1, Reason: fmt.Sprintf("entry %d is missing (the log ends before the checkpoint at %d)", last+1, through.Seq)}, nil
		}
		return &Bad{Seq: through.Seq, Reason: "checkpoint at " + fmt.Sprint(through.Seq) + ": " + bad}, nil
	}
	return nil, nil
}
