package client

import (
	"context"
	"errors"
	"github.com/conflictlab/conflictlab/internal/mutants"
	"net/http"
)

// Handler pushes operations, the Go form of the SDKs' MSSyncContextDelegate /
// IMobileServiceSyncHandler.
//
// ExecuteTableOperation is called for each operation in queue order; it usually calls
// op.Execute and may retry, change the item, return another result or cancel the push
// (op.CancelPush). What it returns is what the push acts on: an item and nil completes the
// operation (the item is stored), an error is classified as docs/semantics.md says. OnPushComplete
// is called once at the end of every push with every recorded error, which it may resolve.
type Handler interface {
	ExecuteTableOperation(ctx context.Context, op *TableOperation) (Item, error)
	OnPushComplete(ctx context.Context, result *PushResult) error
}

// HandlerFuncs builds a Handler from functions; a nil one does the default.
type HandlerFuncs struct {
	Execute  func(ctx context.Context, op *TableOperation) (Item, error)
	Complete func(ctx context.Context, result *PushResult) error
}

// ExecuteTableOperation calls Execute, or op.Execute when it is nil.
func (h HandlerFuncs) ExecuteTableOperation(ctx context.Context, op *TableOperation) (Item, error) {
	if h.Execute == nil {
		return op.Execute(ctx)
	}
	return h.Execute(ctx, op)
}

// OnPushComplete calls Complete, or does nothing when it is nil.
func (h HandlerFuncs) OnPushComplete(ctx context.Context, result *PushResult) error {
	if h.Complete == nil {
		return nil
	}
	return h.Complete(ctx, result)
}

// DefaultHandler executes every operation as it is and leaves errors for the caller: they come
// back in the *PushFailedError.
func DefaultHandler() Handler { return HandlerFuncs{} }

// conflictOf returns the HTTP error when err is a 409 or 412 that carries the server's item.
func conflictOf(err error) (*HTTPError, bool) {
	var he *HTTPError
	if errors.As(err, &he) && he.IsConflict() && he.ServerItem != nil {
		return he, true
	}
	return nil, false
}

// ClientWinsOption configures ClientWins.
type ClientWinsOption func(*clientWins)

// MaxTries bounds how many times ClientWins sends one operation (default 5).
func MaxTries(n int) ClientWinsOption { return func(c *clientWins) { c.tries = max(n, 1) } }

// ClientWins ("Use Client") makes the local change win: on a 412 (or a 409 on an update or
// delete) it takes the server item's version and sends again; on a 409 for an insert it sends
// the item as an update with the server's version. On a 404 for an update (the server deleted
// the row) it undeletes the row and sends the update again, or inserts it when the row is gone
// for good. After MaxTries sends the error is recorded.
func ClientWins(opts ...ClientWinsOption) Handler {
	c := &clientWins{tries: 5}
	for _, o := range opts {
		o(c)
	}
	return c
}

type clientWins struct{ tries int }

func (c *clientWins) ExecuteTableOperation(ctx context.Context, op *TableOperation) (Item, error) {
	kind := op.Kind()
	d := op.sc.client.Dialect()
	for try := 1; ; try++ {
		res, err := op.execute(ctx, kind)
		if err == nil || (try >= c.tries && !mutants.On(mutants.ClientWinsUnbounded)) {
			return res, err
		}
		if he, ok := conflictOf(err); ok {
			v := versionOf(d, he.ServerItem)
			if v == "" {
				return res, err
			}
			if !mutants.On(mutants.ClientWinsLosesVersion) {
				setVersion(op.item, d, v)
			}
			if kind == InsertOperation && he.Status == http.StatusConflict {
				kind = UpdateOperation
			}
			continue
		}
		if !deletedOnServer(kind, err) {
			return res, err
		}
		// The server deleted the row this update changes: bring it back, then update it.
		row, uerr := op.sc.client.Table(op.Table()).Undelete(ctx, Item{ColumnID: op.ItemID()})
		switch {
		case uerr == nil:
			setVersion(op.item, d, versionOf(d, row))
		case errors.Is(uerr, ErrNotFound):
			kind = InsertOperation // deleted for good: insert it again
		default:
			return res, err
		}
	}
}

// deletedOnServer reports whether err is the 404 an update gets when the server's row is
// deleted: the update/delete conflict.
func deletedOnServer(kind OperationKind, err error) bool {
	var he *HTTPError
	return kind == UpdateOperation && errors.As(err, &he) && he.Status == http.StatusNotFound
}

func (c *clientWins) OnPushComplete(context.Context, *PushResult) error { return nil }

// setVersion sets the item's version column in dialect d, replacing any spelling of it.
func setVersion(item Item, d Dialect, v string) {
	col := d.Column(ColumnVersion)
	for k := range item {
		if isSystemColumn(k) && !isServerOwned(k) {
			delete(item, k)
		}
	}
	item[col] = v
}

// ServerWins ("Use Server") makes the server's item win: on a 409 or 412 the operation
// completes as if it had succeeded with the server's item, which is stored (a delete whose
// row the server changed brings the row back). On a 404 for an update (the server deleted the
// row) the operation completes and the local row is removed.
func ServerWins() Handler {
	return HandlerFuncs{Execute: func(ctx context.Context, op *TableOperation) (Item, error) {
		res, err := op.Execute(ctx)
		if he, ok := conflictOf(err); ok {
			if mutants.On(mutants.ServerWinsKeepsLocal) {
				return nil, nil // the bug: completes without the server's item
			}
			return he.ServerItem, nil
		}
		if deletedOnServer(op.Kind(), err) {
			return Item{ColumnID: op.ItemID(), op.sc.client.Dialect().Column(ColumnDeleted): true}, nil
		}
		return res, err
	}}
}

// CancelPush ("Cancel") stops the push at the first conflict (a 409 or 412, or a 404 for an
// update: the server deleted the row): the operation stays queued and pending with its local
// value, and the push returns CancelledByOperation with the conflict in its errors.
func CancelPush() Handler {
	return HandlerFuncs{Execute: func(ctx context.Context, op *TableOperation) (Item, error) {
		res, err := op.Execute(ctx)
		if _, ok := conflictOf(err); ok || deletedOnServer(op.Kind(), err) {
			op.CancelPush()
		}
		return res, err
	}}
}
