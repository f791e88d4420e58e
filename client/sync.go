package client

import (
	"context"
	"errors"
	"strings"
	"sync"

	"github.com/conflictlab/conflictlab/client/store"
)

// Operation is one queued change, as the store keeps it.
type Operation = store.Operation

// OperationKind is what an operation does: insert, update or delete.
type OperationKind = store.OpKind

// The operation kinds.
const (
	InsertOperation = store.Insert
	UpdateOperation = store.Update
	DeleteOperation = store.Delete
)

// Option changes a SyncContext's behaviour where the SDKs differ (docs/semantics.md names the
// default and the alternative).
type Option func(*syncConfig)

type syncConfig struct {
	deleteAtTail         bool
	identicalIsSuccess   bool
	pushTableBeforePull  bool
	skippedRowsMoveToken bool
	purgePushesFirst     bool
	pageSize             int
}

// DeleteAfterUpdateAtTail makes a delete of an item with a queued update remove the update
// and queue the delete at the tail, as the .NET SDK does. By default (iOS) the update becomes
// the delete in its queue position.
func DeleteAfterUpdateAtTail() Option { return func(c *syncConfig) { c.deleteAtTail = true } }

// TreatIdenticalAsSuccess treats a 409 or 412 whose server item already equals the item sent
// (system columns aside) as success: the usual outcome of retrying a write whose response was
// lost. No SDK does this; it is off by default.
func TreatIdenticalAsSuccess() Option { return func(c *syncConfig) { c.identicalIsSuccess = true } }

// PushTableBeforePull makes the push before a pull push only the pulled table's operations.
// By default (iOS) it pushes the whole context.
func PushTableBeforePull() Option { return func(c *syncConfig) { c.pushTableBeforePull = true } }

// SkippedRowsMoveToken lets rows an incremental pull skips (they have queued operations) move
// the delta token, as the iOS SDK does. By default (.NET) they do not, so a later pull brings
// them once their operations are pushed.
func SkippedRowsMoveToken() Option { return func(c *syncConfig) { c.skippedRowsMoveToken = true } }

// PurgePushesFirst makes a non-forced purge of a table with queued operations push first and
// purge only if that push completed cleanly (the 2014 iOS preview). By default it fails with
// ErrPurgePendingChanges.
func PurgePushesFirst() Option { return func(c *syncConfig) { c.purgePushesFirst = true } }

// PullPageSize sets how many rows a pull asks for per request (default 50).
func PullPageSize(n int) Option { return func(c *syncConfig) { c.pageSize = n } }

// SyncContext is a client's offline state: the store, the operation queue, the handler that
// pushes it. Push, pull and purge run one at a time; local reads and writes may run beside
// them. Every method is safe for concurrent use and honours its context.
type SyncContext struct {
	client  *Client
	store   store.Store
	handler Handler
	cfg     syncConfig

	sem chan struct{} // held by the one push, pull or purge running

	mu      sync.Mutex
	items   map[string]*itemLock // per item being written or pushed, by itemKey
	pushing map[string]int       // tables with an operation being pushed right now (lower case)

	// recorded holds the operations whose error the running push recorded, for the mutant
	// OnPushCompleteThisPushOnly only (nil otherwise).
	recorded map[string]bool
}

// NewSyncContext returns a sync context over store that pushes through handler (nil: the
// default handler, which executes each operation and records its errors).
func NewSyncContext(c *Client, s store.Store, h Handler, opts ...Option) (*SyncContext, error) {
	if c == nil || s == nil {
		return nil, wrap(ErrInvalidOperation, "NewSyncContext needs a client and a store")
	}
	cfg := syncConfig{pageSize: 50}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.pageSize <= 0 || cfg.pageSize > 1000 {
		return nil, wrap(ErrInvalidOperation, "pull page size must be 1 to 1000, got %d", cfg.pageSize)
	}
	if h == nil {
		h = DefaultHandler()
	}
	return &SyncContext{client: c, store: s, handler: h, cfg: cfg, sem: make(chan struct{}, 1),
		items: map[string]*itemLock{}, pushing: map[string]int{}}, nil
}

// Client returns the client the context talks to.
func (sc *SyncContext) Client() *Client { return sc.client }

// Store returns the context's local store.
func (sc *SyncContext) Store() store.Store { return sc.store }

// Table returns the sync table of that name. Its methods check the name.
func (sc *SyncContext) Table(name string) *SyncTable {
	return &SyncTable{sc: sc, name: name, remote: sc.client.Table(name)}
}

// PendingOperations returns the queued operations in push order.
func (sc *SyncContext) PendingOperations(ctx context.Context) ([]Operation, error) {
	var ops []Operation
	err := sc.view(ctx, "read the operation queue", func(r store.Reader) (err error) {
		ops, err = r.Operations()
		return err
	})
	return ops, err
}

// OperationErrors returns the errors recorded by earlier pushes and not yet resolved.
func (sc *SyncContext) OperationErrors(ctx context.Context) ([]*TableOperationError, error) {
	var recs []store.OperationError
	err := sc.view(ctx, "read the operation errors", func(r store.Reader) (err error) {
		recs, err = r.Errors()
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]*TableOperationError, len(recs))
	for i, rec := range recs {
		out[i] = sc.operationError(rec, nil)
	}
	return out, nil
}

// DeltaToken returns the delta token an incremental pull saved for a table and query id, ""
// when none.
func (sc *SyncContext) DeltaToken(ctx context.Context, table, queryID string) (string, error) {
	var tok string
	err := sc.view(ctx, "read a delta token", func(r store.Reader) error {
		v, _, err := r.Config(deltaTokenKey(table, queryID))
		tok = v
		return err
	})
	return tok, err
}

func deltaTokenKey(table, queryID string) string {
	return "deltaToken|" + strings.ToLower(table) + "|" + queryID
}

func (sc *SyncContext) view(ctx context.Context, what string, fn func(store.Reader) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return storeError(what, sc.store.View(ctx, fn))
}

func (sc *SyncContext) update(ctx context.Context, what string, fn func(store.Writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return storeError(what, sc.store.Update(ctx, fn))
}

// pushMarker is set on the context a push passes to its handler, so a call back into the
// same sync context from the handler fails instead of waiting for itself forever.
type pushMarker struct {
	sc  *SyncContext
	key string // the item being pushed
}

type pushMarkerKey struct{}

func markerOf(ctx context.Context) *pushMarker {
	m, _ := ctx.Value(pushMarkerKey{}).(*pushMarker)
	return m
}

// lock takes the context's sync lock for a push, pull or purge.
func (sc *SyncContext) lock(ctx context.Context, what string) error {
	if m := markerOf(ctx); m != nil && m.sc == sc {
		return wrap(ErrInvalidOperation, "%s called from inside this context's push handler", what)
	}
	select {
	case sc.sem <- struct{}{}:
		if err := ctx.Err(); err != nil {
			<-sc.sem
			return err
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (sc *SyncContext) unlock() { <-sc.sem }

// itemLock serialises the local writes to one item with the push of its operation.
type itemLock struct {
	ch   chan struct{}
	refs int
}

func itemKey(table, id string) string { return strings.ToLower(table) + "\x00" + strings.ToLower(id) }

// lockItem waits until no one else writes or pushes the item.
func (sc *SyncContext) lockItem(ctx context.Context, key string) error {
	if m := markerOf(ctx); m != nil && m.sc == sc && m.key == key {
		return wrap(ErrInvalidOperation, "the item is being pushed by the handler that tries to write it")
	}
	sc.mu.Lock()
	l := sc.items[key]
	if l == nil {
		l = &itemLock{ch: make(chan struct{}, 1)}
		sc.items[key] = l
	}
	l.refs++
	sc.mu.Unlock()
	select {
	case l.ch <- struct{}{}:
		return nil
	case <-ctx.Done():
		sc.dropItemRef(key, l)
		return ctx.Err()
	}
}

func (sc *SyncContext) unlockItem(key string) {
	sc.mu.Lock()
	l := sc.items[key]
	sc.mu.Unlock()
	<-l.ch
	sc.dropItemRef(key, l)
}

func (sc *SyncContext) dropItemRef(key string, l *itemLock) {
	sc.mu.Lock()
	l.refs--
	if l.refs == 0 {
		delete(sc.items, key)
	}
	sc.mu.Unlock()
}

func (sc *SyncContext) setPushing(table string, on bool) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	t := strings.ToLower(table)
	if on {
		sc.pushing[t]++
	} else if sc.pushing[t]--; sc.pushing[t] <= 0 {
		delete(sc.pushing, t)
	}
}

func (sc *SyncContext) isPushing(table string) bool {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.pushing[strings.ToLower(table)] > 0
}

// isContextError reports whether err comes from ctx being done (and not, say, a client
// timeout that merely wraps context.DeadlineExceeded).
func isContextError(ctx context.Context, err error) bool {
	return ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded))
}
