// Package flock takes advisory locks on files so that several coldint
// processes (a hub server and a CLI on the same folder, two validators on one
// cache) do not write the same files at once. Locks are released by the
// kernel when the process dies, so there are no stale locks to clean up.
package flock

import (
	"context"
	"fmt"
	"os"
	"time"
)

// Lock is a held lock; Unlock releases it.
type Lock struct{ f *os.File }

// Acquire takes an exclusive lock on path (created if missing), waiting
// until it is free or ctx is done.
func Acquire(ctx context.Context, path string) (*Lock, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open lock %q: %w", path, err)
	}
	wait := time.Millisecond
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock %q: %w", path, err)
		}
		if ok {
			return &Lock{f: f}, nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("wait for lock %q: %w", path, ctx.Err())
		case <-t.C:
		}
		wait = min(wait*2, 200*time.Millisecond)
	}
}

// Unlock releases the lock.
func (l *Lock) Unlock() error {
	if l == nil || l.f == nil {
		return nil
	}
	unlock(l.f)
	err := l.f.Close()
	l.f = nil
	return err
}
