package client

import (
	"context"
	"github.com/conflictlab/conflictlab/internal/mutants"

	"github.com/conflictlab/conflictlab/client/store"
)

// Purge deletes local rows without touching the server.
//
// Not forced: a table with queued operations is refused with ErrPurgePendingChanges (with
// PurgePushesFirst it pushes first and purges only if that push completed cleanly); otherwise
// the rows matching q (all when nil) are deleted and, with a queryID, that delta token is
// reset. Forced: the table's operations, their errors, its delta tokens and all its rows are
// deleted — refused only while one of its operations is being pushed.
func (st *SyncTable) Purge(ctx context.Context, q *Query, queryID string, force bool) error {
	if err := st.checkName(); err != nil {
		return err
	}
	if err := q.Err(); err != nil {
		return err
	}
	if err := checkQueryID(queryID); err != nil {
		return err
	}
	if q != nil && (len(q.orderBy) > 0 || q.top >= 0 || q.skip > 0 || len(q.sel) > 0 || q.count) {
		return wrap(ErrInvalidQuery, "a purge uses only a filter")
	}
	if force {
		// Checked before waiting for the lock: a push of this table holds it.
		if st.sc.isPushing(st.name) {
			return wrap(ErrPurgePendingChanges, "an operation of %s is being pushed", st.name)
		}
	}
	if err := st.sc.lock(ctx, "Purge"); err != nil {
		return err
	}
	defer st.sc.unlock()
	if force {
		return st.sc.update(ctx, "force purge", func(w store.Writer) error {
			tables := []string{st.name}
			if mutants.On(mutants.ForcedPurgeAllTables) {
				tables = nil // the bug: every table's operations
			}
			ops, err := w.Operations(tables...)
			if err != nil {
				return err
			}
			for _, op := range ops {
				if err := w.DeleteOperation(op.ID); err != nil {
					return err
				}
				if err := w.DeleteError(op.ID); err != nil {
					return err
				}
			}
			keys, err := w.ConfigKeys(deltaTokenKey(st.name, ""))
			if err != nil {
				return err
			}
			for _, k := range keys {
				if err := w.DeleteConfig(k); err != nil {
					return err
				}
			}
			_, err = w.DeleteRows(st.name, nil)
			return err
		})
	}
	if st.sc.cfg.purgePushesFirst && !mutants.On(mutants.PurgePushesFirstIgnored) {
		if err := st.pushFirst(ctx, st.sc.cfg.pushTableBeforePull); err != nil {
			return err
		}
	}
	return st.sc.update(ctx, "purge", func(w store.Writer) error {
		ops, err := w.Operations(st.name)
		if err != nil {
			return err
		}
		if len(ops) > 0 && !mutants.On(mutants.PurgeDespitePending) {
			return wrap(ErrPurgePendingChanges, "%s has %d queued operation(s)", st.name, len(ops))
		}
		var filter = q.local().Filter
		if mutants.On(mutants.PurgeIgnoresQuery) {
			filter = nil
		}
		if _, err := w.DeleteRows(st.name, filter); err != nil {
			return err
		}
		if queryID != "" {
			return w.DeleteConfig(deltaTokenKey(st.name, queryID))
		}
		return nil
	})
}
