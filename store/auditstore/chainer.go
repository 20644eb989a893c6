package auditstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/unhidra/unhidra/audit"
	"github.com/unhidra/unhidra/store"
)

// ChainerOptions configure a Chainer; zero values get the defaults.
type ChainerOptions struct {
	// Owner names this node in the lease (required, unique per process).
	Owner string
	// Key signs checkpoints (required).
	Key *audit.SigningKey
	// LeaseTTL is how long the lease lasts without renewal (10 s): a node
	// killed while holding it is replaced after at most this long.
	LeaseTTL time.Duration
	// Poll is how often the outbox is checked (200 ms).
	Poll time.Duration
	// Batch is the most outbox rows one transaction moves (500).
	Batch int
	// CheckpointEvery and CheckpointInterval: a checkpoint is signed after
	// this many new entries (1000) or this long after the last one if
	// entries were added since (1 min).
	CheckpointEvery    int64
	CheckpointInterval time.Duration
	// OnCheckpoint hears each checkpoint this node signed, after commit
	// (the export to a file).
	OnCheckpoint func(*audit.Checkpoint)
	// OnChained hears, after commit, that entries up to seq exist.
	OnChained func(seq int64)
	// Trusted are the keys whose checkpoints a prune accepts as the end
	// of what it removes (default: Key's).
	Trusted audit.Keyring
	// PruneBatch is the most entries one prune transaction removes
	// (10,000), unless checkpoints are further apart.
	PruneBatch int64
	Now        func() time.Time
	Logger     *slog.Logger
}

// Chainer moves outbox rows into the hash-chained log while its node holds
// the lease. Run it on every node: one holds the lease at a time, and
// another takes over when it expires.
type Chainer struct {
	db     *store.DB
	opts   ChainerOptions
	leased bool // the lease row is known to exist
	// trusted is opts.Trusted, or Key's public key.
	trusted audit.Keyring
	// holding is whether the last pass held the lease.
	holding atomic.Bool
}

// Holding reports whether this chainer held the lease at its last pass:
// jobs that must run on one node at a time (the syslog forwarder) run
// where it is true.
func (ch *Chainer) Holding() bool { return ch.holding.Load() }

// NewChainer returns a chainer over db.
func NewChainer(db *store.DB, opts ChainerOptions) (*Chainer, error) {
	if opts.Owner == "" || opts.Key == nil {
		return nil, errors.New("audit chainer: an owner and a signing key are required")
	}
	if opts.LeaseTTL <= 0 {
		opts.LeaseTTL = 10 * time.Second
	}
	if opts.Poll <= 0 {
		opts.Poll = 200 * time.Millisecond
	}
	if opts.Batch <= 0 {
		opts.Batch = 500
	}
	if opts.CheckpointEvery <= 0 {
		opts.CheckpointEvery = 1000
	}
	if opts.CheckpointInterval <= 0 {
		opts.CheckpointInterval = time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.PruneBatch <= 0 {
		opts.PruneBatch = 10000
	}
	trusted := opts.Trusted
	if len(trusted) == 0 {
		trusted = audit.Keyring{}
		trusted.Add(opts.Key.Public())
	}
	return &Chainer{db: db, opts: opts, trusted: trusted}, nil
}

// Run chains until ctx ends. Errors are logged and retried.
func (ch *Chainer) Run(ctx context.Context) {
	t := time.NewTicker(ch.opts.Poll)
	defer t.Stop()
	for {
		for {
			n, err := ch.Step(ctx)
			if err != nil && ctx.Err() == nil {
				ch.opts.Logger.Warn("audit chainer", slog.Any("err", err))
			}
			if err != nil || n < ch.opts.Batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Step makes one pass: it skips if another node holds a live lease, and
// otherwise, in one transaction, takes or renews the lease, moves up to
// Batch outbox rows into the log and signs a checkpoint if one is due. It
// returns how many entries it added.
func (ch *Chainer) Step(ctx context.Context) (int, error) {
	now := ch.opts.Now()
	if !ch.leased {
		if err := ensureJob(ctx, ch.db, "chain"); err != nil {
			return 0, err
		}
		ch.leased = true
	}
	// A cheap read first: a node that does not hold the lease, or holds
	// it with nothing to do, writes nothing (no fsync per poll).
	owner, expires, err := ch.lease(ctx, ch.db.Read(), false)
	if err != nil {
		return 0, err
	}
	mine := owner == ch.opts.Owner
	if !mine && now.Before(expires) {
		ch.holding.Store(false)
		return 0, nil
	}
	if mine && now.Before(expires.Add(-ch.opts.LeaseTTL/2)) {
		var any int
		err := ch.db.Read().QueryRow(ctx, `SELECT 1 FROM audit_outbox LIMIT 1`).Scan(&any)
		if errors.Is(err, sql.ErrNoRows) && !ch.checkpointDue(ctx, now) {
			return 0, nil
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("audit outbox: %w", err)
		}
	}
	var added int
	var signed *audit.Checkpoint
	var last int64
	err = ch.db.InTx(ctx, func(c store.Conn) error {
		added, signed, last = 0, nil, 0
		// The lease row, locked until commit: chainers are serialized, and
		// one whose lease lapsed while it paused finds it taken here.
		owner, expires, err := ch.lease(ctx, c, true)
		if err != nil {
			return err
		}
		if owner != ch.opts.Owner && now.Before(expires) {
			ch.holding.Store(false)
			return nil
		}
		ch.holding.Store(true)
		if _, err := c.Exec(ctx, `UPDATE audit_lease SET owner = ?, expires_at = ? WHERE name = 'chain'`,
			ch.opts.Owner, store.Micros(now.Add(ch.opts.LeaseTTL))); err != nil {
			return fmt.Errorf("audit lease: %w", err)
		}
		if owner != ch.opts.Owner {
			ch.opts.Logger.Info("audit chainer: lease taken", slog.String("owner", ch.opts.Owner), slog.String("previous", owner))
		}
		seq, prev, err := head(ctx, c)
		if err != nil {
			return err
		}
		rows, err := c.Query(ctx, `SELECT id, at, action, actor_type, actor_id, target_type, target_id, ip, result, reason, metadata
			FROM audit_outbox ORDER BY id LIMIT ?`, ch.opts.Batch)
		if err != nil {
			return fmt.Errorf("audit outbox: %w", err)
		}
		type row struct {
			id   int64
			e    audit.Entry
			meta string
		}
		batch, err := store.Collect(rows, "audit outbox", func(sc store.Scanner) (*row, error) {
			var r row
			var at int64
			err := sc.Scan(&r.id, &at, &r.e.Action, &r.e.ActorType, &r.e.ActorID, &r.e.TargetType, &r.e.TargetID,
				&r.e.IP, &r.e.Result, &r.e.Reason, &r.meta)
			r.e.Time = store.Time(at)
			return &r, err
		})
		if err != nil {
			return err
		}
		for _, r := range batch {
			if err := decodeMeta(r.meta, &r.e.Metadata); err != nil {
				return fmt.Errorf("audit outbox row %d: %w", r.id, err)
			}
			seq++
			r.e.Seq, r.e.PrevHash = seq, prev
			r.e.Hash = audit.Hash(seq, &r.e.Event, prev)
			if _, err := c.Exec(ctx, `INSERT INTO audit_log (`+logColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				seq, store.Micros(r.e.Time), r.e.Action, r.e.ActorType, r.e.ActorID, r.e.TargetType, r.e.TargetID,
				r.e.IP, r.e.Result, r.e.Reason, r.meta, r.e.PrevHash, r.e.Hash); err != nil {
				return fmt.Errorf("audit log insert %d: %w", seq, err)
			}
			if _, err := c.Exec(ctx, `DELETE FROM audit_outbox WHERE id = ?`, r.id); err != nil {
				return fmt.Errorf("audit outbox delete: %w", err)
			}
			prev = r.e.Hash
		}
		added, last = len(batch), seq
		// A checkpoint when due.
		var cpSeq, cpAt int64
		err = c.QueryRow(ctx, `SELECT seq, at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`).Scan(&cpSeq, &cpAt)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("audit checkpoints: %w", err)
		}
		if seq > cpSeq && (seq-cpSeq >= ch.opts.CheckpointEvery || now.Sub(store.Time(cpAt)) >= ch.opts.CheckpointInterval) {
			cp := &audit.Checkpoint{Seq: seq, Hash: prev, Time: now.UTC().Truncate(time.Microsecond)}
			ch.opts.Key.Sign(cp)
			if _, err := c.Exec(ctx, `INSERT INTO audit_checkpoints (seq, hash, at, key_id, signature) VALUES (?, ?, ?, ?, ?)`,
				cp.Seq, cp.Hash, store.Micros(cp.Time), cp.KeyID, cp.Signature); err != nil {
				return fmt.Errorf("audit checkpoint: %w", err)
			}
			signed = cp
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if signed != nil && ch.opts.OnCheckpoint != nil {
		ch.opts.OnCheckpoint(signed)
	}
	if added > 0 && ch.opts.OnChained != nil {
		ch.opts.OnChained(last)
	}
	return added, nil
}

// checkpointDue reports whether the newest entries are older than the
// checkpoint interval without a checkpoint.
func (ch *Chainer) checkpointDue(ctx context.Context, now time.Time) bool {
	var seq, cpSeq, cpAt int64
	_ = ch.db.Read().QueryRow(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_log`).Scan(&seq)
	err := ch.db.Read().QueryRow(ctx, `SELECT seq, at FROM audit_checkpoints ORDER BY seq DESC LIMIT 1`).Scan(&cpSeq, &cpAt)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false
	}
	return seq > cpSeq && now.Sub(store.Time(cpAt)) >= ch.opts.CheckpointInterval
}

// lease reads the chain lease, locking its row inside a transaction.
func (ch *Chainer) lease(ctx context.Context, c store.Conn, lock bool) (owner string, expires time.Time, err error) {
	var exp int64
	q := `SELECT owner, expires_at FROM audit_lease WHERE name = 'chain'`
	if lock {
		q += c.ForUpdate()
	}
	err = c.QueryRow(ctx, q).Scan(&owner, &exp)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("audit lease: %w", err)
	}
	return owner, store.Time(exp), nil
}

// Release gives the lease up (at a clean shutdown), so another node takes
// over at once rather than after the TTL.
func (ch *Chainer) Release(ctx context.Context) error {
	_, err := ch.db.Write().Exec(ctx, `UPDATE audit_lease SET expires_at = 0 WHERE name = 'chain' AND owner = ?`, ch.opts.Owner)
	return err
}

// ensureJob inserts the audit_lease row of a job if it is missing.
func ensureJob(ctx context.Context, db *store.DB, name string) error {
	if _, err := db.Write().Exec(ctx, `INSERT INTO audit_lease (name, owner, expires_at) VALUES (?, '', 0) ON CONFLICT (name) DO NOTHING`, name); err != nil {
		return fmt.Errorf("audit lease: %w", err)
	}
	return nil
}
