package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

// TestGroupCommit: concurrent writers share commits, a failing writer is
// rolled back alone, and every successful write is there after reopening.
func TestGroupCommit(t *testing.T) {
	path := t.TempDir() + "/g.db"
	ctx := context.Background()
	db, err := Open(ctx, path, Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Write().Exec(ctx, `CREATE TABLE gc_test (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const writers = 200
	var wg sync.WaitGroup
	errs := make([]error, writers)
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = db.InTx(ctx, func(c Conn) error {
				if _, err := c.Exec(ctx, `INSERT INTO gc_test (k, v) VALUES (?, ?)`, fmt.Sprint("k", i), i); err != nil {
					return err
				}
				if i%10 == 0 {
					// A second write and then a failure: both must vanish.
					if _, err := c.Exec(ctx, `INSERT INTO gc_test (k, v) VALUES (?, ?)`, fmt.Sprint("extra", i), i); err != nil {
						return err
					}
					return errors.New("refused")
				}
				if i%10 == 1 {
					panic("writer bug")
				}
				return nil
			})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if (i%10 == 0 || i%10 == 1) != (err != nil) {
			t.Fatalf("writer %d: err = %v", i, err)
		}
	}
	batches, jobs := db.group.batches.Load(), db.group.jobsDone.Load()
	if jobs < writers || batches >= jobs {
		t.Fatalf("%d jobs in %d batches: no batching happened", jobs, batches)
	}
	db.Close()
	db.Close() // closing twice is harmless

	db, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	db.Read().QueryRow(ctx, `SELECT COUNT(*) FROM gc_test`).Scan(&n)
	if n != writers*8/10 {
		t.Fatalf("%d rows survived, want %d", n, writers*8/10)
	}
	t.Logf("%d writers committed in %d batches", jobs, batches)
}

func TestGroupCommitCancelledCaller(t *testing.T) {
	db, err := Open(context.Background(), t.TempDir()+"/c.db", Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.InTx(ctx, func(c Conn) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v", err)
	}
}

// TestGroupCommitAfterClose: a write after Close fails at once, never
// hangs, however the race between queueing and stopping falls.
func TestGroupCommitAfterClose(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir()+"/c.db", Options{Migrate: true})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for range 1000 {
		if err := db.InTx(ctx, func(Conn) error { return nil }); err == nil {
			t.Fatal("InTx after Close succeeded")
		}
	}
}
