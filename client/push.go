package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/internal/mutants"
)

// PushStatus says how a push ended.
type PushStatus int

// The push statuses (the SDKs' MSSyncContextPushResult values).
const (
	// Complete: every operation was sent; some may have recorded errors.
	Complete PushStatus = iota
	// CancelledByNetworkError: a request got no response [-1173].
	CancelledByNetworkError
	// CancelledByAuthenticationError: the server answered 401 [-1172].
	CancelledByAuthenticationError
	// CancelledByOperation: the handler cancelled the push [-1174].
	CancelledByOperation
	// CancelledByContext: the push's context was cancelled or timed out.
	CancelledByContext
	// CancelledByStoreError: the local store failed.
	CancelledByStoreError
)

var pushStatusNames = [...]string{"Complete", "CancelledByNetworkError", "CancelledByAuthenticationError",
	"CancelledByOperation", "CancelledByContext", "CancelledByStoreError"}

func (s PushStatus) String() string {
	if int(s) >= 0 && int(s) < len(pushStatusNames) {
		return pushStatusNames[s]
	}
	return fmt.Sprintf("PushStatus(%d)", int(s))
}

// PushResult is what a push did.
type PushResult struct {
	Status PushStatus
	// Errors are the operation errors left when the push ended — from this push and earlier
	// ones — as OnPushComplete saw them; see Handled on each.
	Errors []*TableOperationError
	// Err is what cancelled the push (nil when Complete).
	Err error
}

// Unhandled returns the errors no resolution method was called on.
func (r *PushResult) Unhandled() []*TableOperationError {
	var out []*TableOperationError
	for _, e := range r.Errors {
		if !e.Handled() {
			out = append(out, e)
		}
	}
	return out
}

// PushFailedError is returned by a push that was cancelled or left errors unhandled [-1170].
// errors.Is(err, ErrPushFailed) holds, and so does the cause's kind (ErrNetwork,
// ErrAuthentication, ErrPushCancelled, context.Canceled, ErrStore, ErrPreconditionFailed...).
type PushFailedError struct {
	Status PushStatus
	Errors []*TableOperationError // unhandled; they stay queued for the next push
	Err    error                  // what cancelled the push, nil when Complete
}

func (e *PushFailedError) Error() string {
	var b strings.Builder
	b.WriteString(ErrPushFailed.Error())
	fmt.Fprintf(&b, ": status %s", e.Status)
	if e.Err != nil {
		fmt.Fprintf(&b, " (%v)", e.Err)
	}
	if len(e.Errors) > 0 {
		fmt.Fprintf(&b, "; %d unhandled operation error(s), first: %v", len(e.Errors), e.Errors[0])
	}
	return b.String()
}

func (e *PushFailedError) Unwrap() []error {
	out := []error{ErrPushFailed}
	if e.Err != nil {
		out = append(out, e.Err)
	}
	for _, te := range e.Errors {
		out = append(out, te)
	}
	return out
}

// PushOption limits a push.
type PushOption func(*pushConfig)

type pushConfig struct{ tables []string }

// OnlyTables limits a push to the operations of these tables.
func OnlyTables(tables ...string) PushOption {
	return func(c *pushConfig) { c.tables = append(c.tables, tables...) }
}

// Push sends the queued operations one at a time in queue order through the handler, then
// gives every recorded error to the handler's OnPushComplete. It returns a
// *PushFailedError when the push was cancelled or errors are left unhandled.
func (sc *SyncContext) Push(ctx context.Context, opts ...PushOption) (*PushResult, error) {
	var cfg pushConfig
	for _, o := range opts {
		o(&cfg)
	}
	if err := sc.lock(ctx, "Push"); err != nil {
		return nil, err
	}
	defer sc.unlock()
	return sc.push(ctx, cfg.tables)
}

// push runs a push; the caller holds the sync lock.
func (sc *SyncContext) push(ctx context.Context, tables []string) (*PushResult, error) {
	res := &PushResult{Status: Complete}
	sc.recorded = nil
	if mutants.On(mutants.OnPushCompleteThisPushOnly) {
		sc.recorded = map[string]bool{}
	}
	var ops []store.Operation
	if err := sc.view(ctx, "read the operation queue", func(r store.Reader) (err error) {
		ops, err = r.Operations(tables...)
		return err
	}); err != nil {
		return sc.finishPush(ctx, res, cancelStatus(ctx, err), err)
	}
	for _, queued := range ops {
		if err := ctx.Err(); err != nil {
			return sc.finishPush(ctx, res, CancelledByContext, err)
		}
		status, cause, conflict := sc.pushOne(ctx, queued.ID)
		if status != Complete {
			if conflict != nil {
				res.Errors = append(res.Errors, conflict) // a cancelled push's conflict, not recorded
			}
			return sc.finishPush(ctx, res, status, cause)
		}
	}
	return sc.finishPush(ctx, res, Complete, nil)
}

func cancelStatus(ctx context.Context, err error) PushStatus {
	if isContextError(ctx, err) {
		return CancelledByContext
	}
	return CancelledByStoreError
}

// finishPush loads the recorded errors, lets the handler resolve them and builds the result.
func (sc *SyncContext) finishPush(ctx context.Context, res *PushResult, status PushStatus, cause error) (*PushResult, error) {
	res.Status, res.Err = status, cause
	var recs []store.OperationError
	if err := sc.view(ctx, "read the operation errors", func(r store.Reader) (err error) {
		recs, err = r.Errors()
		return err
	}); err == nil {
		for _, rec := range recs {
			if mutants.On(mutants.OnPushCompleteThisPushOnly) && !sc.recorded[rec.OperationID] {
				continue // the bug: errors left by earlier pushes are not shown
			}
			res.Errors = append(res.Errors, sc.operationError(rec, nil))
		}
	} else if status == Complete {
		res.Status, res.Err = cancelStatus(ctx, err), err
	}
	if err := sc.handler.OnPushComplete(ctx, res); err != nil && res.Err == nil {
		// A handler that fails to complete leaves its errors unhandled; say why.
		res.Err = fmt.Errorf("OnPushComplete: %w", err)
	}
	unhandled := res.Unhandled()
	if res.Status == Complete && len(unhandled) == 0 && res.Err == nil {
		return res, nil
	}
	return res, &PushFailedError{Status: res.Status, Errors: unhandled, Err: res.Err}
}

// pushOne pushes one operation. It returns Complete to go on (success or a recorded error),
// or the status that ends the push with its cause and, for a handler's cancel, the conflict.
func (sc *SyncContext) pushOne(ctx context.Context, opID string) (PushStatus, error, *TableOperationError) {
	// The operation may have changed since the queue was read; find its item first, then take
	// the item's lock and read it again.
	var op store.Operation
	err := sc.view(ctx, "read an operation", func(r store.Reader) (err error) {
		op, err = r.Operation(opID)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return Complete, nil, nil // collapsed away meanwhile
	}
	if err != nil {
		return cancelStatus(ctx, err), err, nil
	}
	key := itemKey(op.Table, op.ItemID)
	if err := sc.lockItem(ctx, key); err != nil {
		return cancelStatus(ctx, err), err, nil
	}
	defer sc.unlockItem(key)
	sc.setPushing(op.Table, true)
	defer sc.setPushing(op.Table, false)

	var item Item
	err = sc.update(ctx, "mark an operation attempted", func(w store.Writer) error {
		cur, err := w.Operation(opID)
		if err != nil {
			return err
		}
		op = cur
		if op.Kind == store.Delete {
			item = copyItem(op.Item)
		} else {
			row, err := w.Row(op.Table, op.ItemID)
			if errors.Is(err, store.ErrNotFound) {
				row, err = Item{ColumnID: op.ItemID}, nil
			}
			if err != nil {
				return err
			}
			item = row
		}
		op.State = store.Attempted
		return w.PutOperation(op)
	})
	if errors.Is(err, store.ErrNotFound) {
		return Complete, nil, nil
	}
	if err != nil {
		return cancelStatus(ctx, err), err, nil
	}
	if item == nil {
		item = Item{ColumnID: op.ItemID}
	}
	top := &TableOperation{sc: sc, op: op, item: localItem(item)} // sent without server-owned columns
	hctx := context.WithValue(ctx, pushMarkerKey{}, &pushMarker{sc: sc, key: key})
	result, execErr := sc.handler.ExecuteTableOperation(hctx, top)

	if top.cancelled {
		cause := execErr
		if cause == nil {
			cause = ErrPushCancelled
		} else {
			cause = &detailed{kind: ErrPushCancelled, msg: "the handler cancelled the push", cause: execErr}
		}
		var conflict *TableOperationError
		err := sc.update(ctx, "requeue a cancelled operation", func(w store.Writer) error {
			cur, err := w.Operation(opID)
			if err != nil {
				return err
			}
			cur.State = store.Pending
			return w.PutOperation(cur)
		})
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return cancelStatus(ctx, err), err, nil
		}
		if execErr != nil {
			conflict = sc.operationError(errorRecord(op, top.item, execErr), execErr)
		}
		return CancelledByOperation, cause, conflict
	}
	var he *HTTPError
	switch {
	case execErr == nil:
		return sc.completeOperation(ctx, op, result)
	case op.Kind == store.Delete && errors.As(execErr, &he) && he.Status == http.StatusNotFound:
		return sc.completeOperation(ctx, op, nil) // already gone: the delete has its way
	case isContextError(ctx, execErr):
		return CancelledByContext, execErr, nil
	case errors.Is(execErr, ErrNetwork):
		return CancelledByNetworkError, execErr, nil
	case errors.As(execErr, &he) && he.Status == http.StatusUnauthorized:
		return CancelledByAuthenticationError, execErr, nil
	}
	rec := errorRecord(op, top.item, execErr)
	err = sc.update(ctx, "record an operation error", func(w store.Writer) error {
		cur, err := w.Operation(opID)
		if err != nil {
			return err
		}
		cur.State = store.Failed
		if err := w.PutOperation(cur); err != nil {
			return err
		}
		rec.OperationVersion = cur.Version
		return w.PutError(rec)
	})
	if err == nil && sc.recorded != nil {
		sc.recorded[opID] = true
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return cancelStatus(ctx, err), err, nil
	}
	return Complete, nil, nil
}

// completeOperation removes a pushed operation and its error, and stores what the server
// returned: the row for an insert or update; for a delete nothing, unless the handler returned
// a live row (server wins over a delete brings the row back). A returned tombstone removes the
// row.
func (sc *SyncContext) completeOperation(ctx context.Context, op store.Operation, result Item) (PushStatus, error, *TableOperationError) {
	err := sc.update(ctx, "store a pushed operation's result", func(w store.Writer) error {
		if err := w.DeleteOperation(op.ID); err != nil {
			return err
		}
		if err := w.DeleteError(op.ID); err != nil {
			return err
		}
		if result == nil {
			return nil
		}
		if isDeleted(result) {
			return w.DeleteRow(op.Table, op.ItemID)
		}
		row := copyItem(result)
		if _, ok := itemID(row); !ok {
			row[ColumnID] = op.ItemID
		}
		return w.PutRow(op.Table, row)
	})
	if err != nil {
		return cancelStatus(ctx, err), err, nil
	}
	return Complete, nil, nil
}

// isDeleted reports whether a server item is a tombstone (deleted or __deleted true).
func isDeleted(item Item) bool {
	for k, v := range item {
		if b, ok := v.(bool); ok && b && strings.EqualFold(strings.TrimPrefix(k, "__"), ColumnDeleted) {
			return true
		}
	}
	return false
}

// errorRecord builds the store's record of a failed operation.
func errorRecord(op store.Operation, sent Item, err error) store.OperationError {
	rec := store.OperationError{OperationID: op.ID, OperationVersion: op.Version, Kind: op.Kind,
		Table: op.Table, ItemID: op.ItemID, Message: err.Error(), Item: sent, Sequence: op.Sequence}
	var he *HTTPError
	var re *ResponseError
	switch {
	case errors.As(err, &he):
		rec.Status, rec.RawResponse, rec.ServerItem = he.Status, he.Body, he.ServerItem
	case errors.As(err, &re):
		rec.Status, rec.RawResponse = re.Status, re.Body
	}
	return rec
}

// TableOperation is the operation a handler executes.
type TableOperation struct {
	sc        *SyncContext
	op        store.Operation
	item      Item
	cancelled bool
}

// Kind returns insert, update or delete.
func (o *TableOperation) Kind() OperationKind { return o.op.Kind }

// Table returns the operation's table.
func (o *TableOperation) Table() string { return o.op.Table }

// ItemID returns the id of the item.
func (o *TableOperation) ItemID() string { return o.op.ItemID }

// Item returns the item Execute sends: the row as it is in the store now without its
// server-owned system columns, or for a delete the item the delete keeps. A handler may change
// it (ClientWins sets the server's version) before calling Execute.
func (o *TableOperation) Item() Item { return o.item }

// SetItem replaces the item Execute sends, as the iOS SDK's operation.item = ... does.
func (o *TableOperation) SetItem(item Item) { o.item = copyItem(item) }

// Operation returns the queued operation as the store holds it.
func (o *TableOperation) Operation() Operation { return o.op }

// Execute sends the operation to the server: insert POST, update PATCH, delete DELETE, each
// with If-Match when the item has a version. It returns the server's item.
func (o *TableOperation) Execute(ctx context.Context) (Item, error) {
	return o.execute(ctx, o.op.Kind)
}

func (o *TableOperation) execute(ctx context.Context, kind OperationKind) (Item, error) {
	t := o.sc.client.Table(o.op.Table)
	var (
		res Item
		err error
	)
	switch kind {
	case store.Insert:
		res, err = t.Insert(ctx, o.item)
	case store.Update:
		res, err = t.Update(ctx, o.item)
	case store.Delete:
		res, err = t.Delete(ctx, o.item)
	default:
		return nil, wrap(ErrInvalidOperation, "unknown operation kind %q", kind)
	}
	var he *HTTPError
	if err != nil && o.sc.cfg.identicalIsSuccess && !mutants.On(mutants.IdenticalNotSuccess) && errors.As(err, &he) && he.IsConflict() &&
		he.ServerItem != nil && kind != store.Delete && sameUserColumns(he.ServerItem, o.item) {
		return he.ServerItem, nil
	}
	return res, err
}

// CancelPush makes the push stop after this operation, which stays queued and pending.
func (o *TableOperation) CancelPush() { o.cancelled = true }

// sameUserColumns reports whether two items hold the same columns and values, system columns
// aside, names compared case-insensitively and values as JSON.
func sameUserColumns(a, b Item) bool {
	return reflect.DeepEqual(userColumns(a), userColumns(b))
}

func userColumns(item Item) map[string]any {
	out := map[string]any{}
	for k, v := range item {
		if isSystemColumn(k) {
			continue
		}
		out[strings.ToLower(k)] = jsonValue(v)
	}
	return out
}

// jsonValue normalises a value to what encoding/json would decode it as, so 1 and 1.0 match.
func jsonValue(v any) any {
	switch v.(type) {
	case nil, bool, string, float64:
		return v
	}
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	return out
}
