package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
)

// groupCommitter batches the write transactions of concurrent callers on
// SQLite into one database transaction, so that one fsync makes many writes
// durable. Each caller's work runs inside its own SAVEPOINT: a caller whose
// function fails is rolled back alone and the others still commit. Every
// caller is answered only after the shared COMMIT returned, so "returned
// nil" still means "durable".
//
// There is no waiting for a batch to fill: the writer takes whatever is
// queued when it becomes free, so a lone writer commits at once and a busy
// one amortises the fsync over everyone who queued during the last commit.
type groupCommitter struct {
	db      *sql.DB // the single-connection writer pool
	d       *dialect
	stmts   *stmtCache
	max     int
	jobs    chan *commitJob
	stop    chan struct{}
	exited  chan struct{} // closed when run has returned
	once    sync.Once
	stopped sync.WaitGroup

	// batches and jobsDone count commits and the jobs they carried, so
	// tests (and later metrics) can see the batching.
	batches, jobsDone atomic.Int64

	// eraser hears of commits that erased content.
	eraser *eraser
}

type commitJob struct {
	ctx    context.Context
	fn     func(c Conn) error
	done   chan error
	erased bool // set through Conn.Erased
}

func newGroupCommitter(db *sql.DB, d *dialect, stmts *stmtCache, maxBatch int, er *eraser) *groupCommitter {
	g := &groupCommitter{db: db, d: d, stmts: stmts, max: maxBatch, jobs: make(chan *commitJob, 4*maxBatch), stop: make(chan struct{}), exited: make(chan struct{}), eraser: er}
	g.stopped.Add(1)
	go g.run()
	return g
}

// do runs fn in the next batch and waits for the batch's commit.
func (g *groupCommitter) do(ctx context.Context, fn func(c Conn) error) error {
	j := &commitJob{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case <-g.stop:
		return sql.ErrConnDone
	default:
	}
	select {
	case g.jobs <- j:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.stop:
		return sql.ErrConnDone
	}
	// Once queued the job is not abandoned: it may already be part of a
	// batch, and its caller must learn whether it committed. A job queued
	// as the writer stopped (select picks among ready cases at random) is
	// answered by nobody: once the writer has exited, an unanswered job
	// never ran.
	select {
	case err := <-j.done:
		return err
	case <-g.exited:
		select {
		case err := <-j.done:
			return err
		default:
			return sql.ErrConnDone
		}
	}
}

func (g *groupCommitter) close() {
	g.once.Do(func() { close(g.stop) })
	g.stopped.Wait()
}

func (g *groupCommitter) run() {
	defer g.stopped.Done()
	defer close(g.exited)
	batch := make([]*commitJob, 0, g.max)
	for {
		batch = batch[:0]
		select {
		case j := <-g.jobs:
			batch = append(batch, j)
		case <-g.stop:
			g.drain()
			return
		}
	fill:
		for len(batch) < g.max {
			select {
			case j := <-g.jobs:
				batch = append(batch, j)
			default:
				break fill
			}
		}
		g.commit(batch)
		if g.stmts != nil {
			// The connection is free between batches: prepare what the
			// last batch ran unprepared.
			g.stmts.prepareWanted(context.Background())
		}
	}
}

// drain answers the jobs still queued at close.
func (g *groupCommitter) drain() {
	for {
		select {
		case j := <-g.jobs:
			j.done <- sql.ErrConnDone
		default:
			return
		}
	}
}

func (g *groupCommitter) commit(batch []*commitJob) {
	errs := make([]error, len(batch))
	// The batch's transaction must not die with one caller's context: a
	// cancelled caller would otherwise interrupt everyone's work.
	tx, err := g.db.BeginTx(context.Background(), nil)
	if err != nil {
		for _, j := range batch {
			j.done <- fmt.Errorf("begin: %w", err)
		}
		return
	}
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		errs[i] = g.runJob(Conn{h: tx, d: g.d, cache: g.stmts, tx: tx, erasedFlag: &j.erased}, j)
	}
	if err := tx.Commit(); err != nil {
		for _, j := range batch {
			j.done <- fmt.Errorf("commit: %w", err)
		}
		return
	}
	g.batches.Add(1)
	g.jobsDone.Add(int64(len(batch)))
	for i, j := range batch {
		if j.erased && errs[i] == nil {
			g.eraser.erased()
		}
		j.done <- errs[i]
	}
}

// runJob runs one caller's function inside a savepoint, undoing exactly its
// writes if it fails (or panics).
func (g *groupCommitter) runJob(c Conn, j *commitJob) (err error) {
	ctx := context.WithoutCancel(j.ctx)
	if _, err := c.Exec(ctx, `SAVEPOINT job`); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("store: write panicked: %v", v)
		}
		if err != nil {
			if _, rerr := c.Exec(ctx, `ROLLBACK TO job`); rerr != nil {
				err = fmt.Errorf("%w (and rollback to savepoint: %v)", err, rerr)
			}
		}
		if _, rerr := c.Exec(ctx, `RELEASE job`); rerr != nil && err == nil {
			err = fmt.Errorf("release savepoint: %w", rerr)
		}
	}()
	return j.fn(c)
}
