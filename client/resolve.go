package client

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/conflictlab/conflictlab/client/store"
)

// TableOperationError is an operation a push could not complete: the status, what was sent,
// what came back and, for a 409 or 412, the server's item. Resolve it with one of
// CancelAndUpdateItem (server wins), CancelAndDiscardItem or UpdateOperation (client wins);
// each first checks that the operation has not changed since the error was recorded.
type TableOperationError struct {
	OperationID      string
	OperationVersion int64
	Kind             OperationKind
	Table            string
	ItemID           string
	Status           int // HTTP status, 0 when none
	Message          string
	Item             Item   // what was sent
	ServerItem       Item   // the server's item (409, 412), nil otherwise
	RawResponse      []byte // the response body

	sc    *SyncContext
	cause error

	mu      sync.Mutex
	handled bool
}

func (sc *SyncContext) operationError(rec store.OperationError, cause error) *TableOperationError {
	return &TableOperationError{OperationID: rec.OperationID, OperationVersion: rec.OperationVersion,
		Kind: rec.Kind, Table: rec.Table, ItemID: rec.ItemID, Status: rec.Status, Message: rec.Message,
		Item: rec.Item, ServerItem: rec.ServerItem, RawResponse: rec.RawResponse,
		sc: sc, cause: cause}
}

func (e *TableOperationError) Error() string {
	if e.Status != 0 {
		return fmt.Sprintf("%s of %s/%s failed with %d: %s", e.Kind, e.Table, e.ItemID, e.Status, e.Message)
	}
	return fmt.Sprintf("%s of %s/%s failed: %s", e.Kind, e.Table, e.ItemID, e.Message)
}

// Is makes errors.Is(err, ErrPreconditionFailed) hold for a 412, ErrConflict for a 409,
// ErrNotFound for a 404 and ErrBadResponse for a success whose body could not be used.
func (e *TableOperationError) Is(target error) bool {
	if target == ErrBadResponse {
		return e.Status >= 200 && e.Status < 300
	}
	return e.Status != 0 && (&HTTPError{Status: e.Status}).Is(target)
}

// GomegaString keeps test failure output to the error's text (the struct holds the sync
// context, which must not be walked while it is in use).
func (e *TableOperationError) GomegaString() string { return e.Error() }

// Unwrap returns the error the push met, when this push met it.
func (e *TableOperationError) Unwrap() error { return e.cause }

// Handled reports whether a resolution method has been called successfully.
func (e *TableOperationError) Handled() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.handled
}

// CancelAndUpdateItem drops the operation and stores item as the local row (server wins: pass
// ServerItem).
func (e *TableOperationError) CancelAndUpdateItem(ctx context.Context, item Item) error {
	if item == nil {
		return wrap(ErrInvalidOperation, "CancelAndUpdateItem needs an item")
	}
	return e.resolve(ctx, func(w store.Writer, op store.Operation) error {
		if err := w.DeleteOperation(op.ID); err != nil {
			return err
		}
		if isDeleted(item) {
			return w.DeleteRow(op.Table, op.ItemID)
		}
		return w.PutRow(op.Table, rowFor(item, op.ItemID))
	})
}

// CancelAndDiscardItem drops the operation and the local row.
func (e *TableOperationError) CancelAndDiscardItem(ctx context.Context) error {
	return e.resolve(ctx, func(w store.Writer, op store.Operation) error {
		if err := w.DeleteOperation(op.ID); err != nil {
			return err
		}
		return w.DeleteRow(op.Table, op.ItemID)
	})
}

// UpdateOperation keeps the operation, pending again, and stores item: as the local row for an
// insert or update, in the operation for a delete. Pass an item with the server's version to
// make the next push win (client wins).
func (e *TableOperationError) UpdateOperation(ctx context.Context, item Item) error {
	if item == nil {
		return wrap(ErrInvalidOperation, "UpdateOperation needs an item")
	}
	return e.resolve(ctx, func(w store.Writer, op store.Operation) error {
		row := rowFor(localItem(item), op.ItemID)
		op.State, op.Version = store.Pending, op.Version+1
		if op.Kind == store.Delete {
			op.Item = row
		} else if err := w.PutRow(op.Table, row); err != nil {
			return err
		}
		return w.PutOperation(op)
	})
}

// rowFor returns a copy of item carrying id as its id.
func rowFor(item Item, id string) Item {
	row := copyItem(item)
	if _, ok := itemID(row); !ok {
		setID(row, id)
	}
	return row
}

func (e *TableOperationError) resolve(ctx context.Context, fn func(store.Writer, store.Operation) error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.handled {
		return wrap(ErrInvalidOperation, "this error has already been resolved")
	}
	if e.sc == nil {
		return wrap(ErrInvalidOperation, "this error does not belong to a sync context")
	}
	key := itemKey(e.Table, e.ItemID)
	if m := markerOf(ctx); m == nil || m.key != key {
		if err := e.sc.lockItem(ctx, key); err != nil {
			return err
		}
		defer e.sc.unlockItem(key)
	}
	err := e.sc.update(ctx, "resolve an operation error", func(w store.Writer) error {
		op, err := w.Operation(e.OperationID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && op.Version != e.OperationVersion) {
			return wrap(ErrOperationUpdated, "%s of %s/%s changed since the error was recorded", e.Kind, e.Table, e.ItemID)
		}
		if err != nil {
			return err
		}
		if err := w.DeleteError(op.ID); err != nil {
			return err
		}
		return fn(w, op)
	})
	if err == nil {
		e.handled = true
	}
	return err
}
