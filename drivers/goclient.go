package drivers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/faulty"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/client/store/sqlite"
	"github.com/conflictlab/conflictlab/internal/version"
)

// Go is the built-in driver: conflictlab's own client (package client) in this process.
func Go() Driver { return goDriver{} }

type goDriver struct{}

func (goDriver) Info() Info {
	return Info{Protocol: ProtocolVersion, Driver: "go", SDK: "conflictlab client", Version: version.String(),
		Capabilities: Capabilities{
			Strategies: []string{"client-wins", "server-wins", "cancel", "manual"},
			Options: []string{"pushScope", "collapseUpdateDeleteToTail", "purgePushesFirst", "treatIdenticalAsSuccess",
				"skippedRowsMoveToken", "pageSize", "maxTries"},
			Stores:   []string{"memory", "sqlite"},
			Dialects: []string{"v2", "v1"},
			Ops: []string{"insert", "update", "delete", "lookup", "read", "query", "push", "pull", "purge", "resolve",
				"store-fault"},
		}}
}

func (goDriver) Close() error { return nil }

func (goDriver) Open(ctx context.Context, cfg DeviceConfig) (Device, error) {
	var st store.Store
	switch cfg.Store.Kind {
	case "", "memory":
		st = memory.New()
	case "sqlite":
		s, err := sqlite.Open(cfg.Store.Path)
		if err != nil {
			return nil, &Error{Kind: KindInternal, Message: err.Error(), cause: err}
		}
		st = s
	default:
		return nil, &Error{Kind: KindUnsupported, Message: fmt.Sprintf("no store %q", cfg.Store.Kind)}
	}
	// Every store is wrapped, so a store-fault op can arm it; unarmed it only counts. At a
	// crash the device keeps what the crash leaves, for CrashState.
	d := &goDevice{tables: map[string]bool{}, durable: cfg.Store.Kind == "sqlite"}
	fs := faulty.New(st, faulty.OnCrash(d.keepCrashState))
	st = fs
	dialect := client.V2
	if cfg.Dialect == "v1" {
		dialect = client.V1
	}
	timeout := cfg.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	hc := &http.Client{Timeout: timeout, Transport: cfg.Transport}
	if hc.Transport == nil {
		hc.Transport = &http.Transport{}
	}
	c, err := client.New(cfg.URL, client.WithDialect(dialect), client.WithInstallationID(cfg.InstallationID), client.WithHTTPClient(hc))
	if err != nil {
		_ = st.Close()
		return nil, &Error{Kind: KindInternal, Message: err.Error(), cause: err}
	}
	var h client.Handler
	switch cfg.Strategy {
	case "client-wins":
		var o []client.ClientWinsOption
		if cfg.Options.MaxTries > 0 {
			o = append(o, client.MaxTries(cfg.Options.MaxTries))
		}
		h = client.ClientWins(o...)
	case "server-wins":
		h = client.ServerWins()
	case "cancel":
		h = client.CancelPush()
	case "", "manual":
	default:
		_ = st.Close()
		return nil, &Error{Kind: KindUnsupported, Message: fmt.Sprintf("no strategy %q", cfg.Strategy)}
	}
	o := cfg.Options
	var opts []client.Option
	if o.PushScope == "table" {
		opts = append(opts, client.PushTableBeforePull())
	}
	if o.CollapseUpdateDeleteToTail {
		opts = append(opts, client.DeleteAfterUpdateAtTail())
	}
	if o.PurgePushesFirst {
		opts = append(opts, client.PurgePushesFirst())
	}
	if o.TreatIdenticalAsSuccess {
		opts = append(opts, client.TreatIdenticalAsSuccess())
	}
	if o.SkippedRowsMoveToken {
		opts = append(opts, client.SkippedRowsMoveToken())
	}
	if o.PageSize > 0 {
		opts = append(opts, client.PullPageSize(o.PageSize))
	}
	sc, err := client.NewSyncContext(c, st, h, opts...)
	if err != nil {
		_ = st.Close()
		return nil, goError(err)
	}
	d.c, d.hc, d.st, d.fs, d.sc = c, hc, st, fs, sc
	return d, nil
}

// goDevice is one SyncContext on its store.
type goDevice struct {
	c  *client.Client
	hc *http.Client
	st store.Store
	fs *faulty.Store // st, with the faults a store-fault op arms
	// durable: the store is a file a restart reopens (sqlite), which a crash needs.
	durable bool
	sc      *client.SyncContext

	mu sync.Mutex
	// lastErrs are the unhandled errors of the last push, which resolve settles; after a
	// restart (a new device) the store's recorded errors stand in.
	lastErrs []*client.TableOperationError
	// tables are the tables an op named (lower case); crashState what the store held of
	// them when it crashed.
	tables     map[string]bool
	crashState *check.Snapshot
}

// touch notes a table an op names, for the state a crash leaves.
func (d *goDevice) touch(table string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tables[strings.ToLower(table)] = true
}

// keepCrashState reads what the crash leaves of the tables the device's ops named (faulty.OnCrash).
func (d *goDevice) keepCrashState(_ int, inner store.Store) {
	d.mu.Lock()
	tables := make([]string, 0, len(d.tables))
	for t := range d.tables {
		tables = append(tables, t)
	}
	d.mu.Unlock()
	snap, err := check.Take(context.Background(), inner, tables)
	if err != nil {
		return
	}
	d.mu.Lock()
	d.crashState = &snap
	d.mu.Unlock()
}

// CrashState is what a device of the built-in driver that crashed (a store-fault crash) had
// committed when it died: the rows of every table its ops named (the keys of Rows), its queue,
// errors and delta tokens. A restart must find exactly that (P8: compare it with check.Durable
// against a snapshot of the reopened device, taken of the same tables). ok is false for a
// device that did not crash, or of another driver.
func CrashState(dev Device) (snap check.Snapshot, ok bool) {
	d, isGo := dev.(*goDevice)
	if !isGo {
		return snap, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.crashState == nil {
		return snap, false
	}
	return *d.crashState, true
}

// SyncContext is the client under a device of the built-in driver, for Go tests that reach
// past the protocol (nil for other drivers' devices).
func SyncContext(d Device) *client.SyncContext {
	if g, ok := d.(*goDevice); ok {
		return g.sc
	}
	return nil
}

func (d *goDevice) Insert(ctx context.Context, table string, item Item) (Item, error) {
	if err := d.alive(); err != nil {
		return nil, err
	}
	d.touch(table)
	out, err := d.sc.Table(table).Insert(ctx, client.Item(item))
	return out, goError(err)
}

func (d *goDevice) Update(ctx context.Context, table string, item Item) (Item, error) {
	if err := d.alive(); err != nil {
		return nil, err
	}
	d.touch(table)
	out, err := d.sc.Table(table).Update(ctx, client.Item(item))
	return out, goError(err)
}

func (d *goDevice) Delete(ctx context.Context, table string, item Item) error {
	if err := d.alive(); err != nil {
		return err
	}
	d.touch(table)
	return goError(d.sc.Table(table).Delete(ctx, client.Item(item)))
}

func (d *goDevice) Lookup(ctx context.Context, table, id string) (Item, error) {
	if err := d.alive(); err != nil {
		return nil, err
	}
	d.touch(table)
	out, err := d.sc.Table(table).Lookup(ctx, id)
	return out, goError(err)
}

func (d *goDevice) Read(ctx context.Context, table string, q *Query) ([]Item, error) {
	if err := d.alive(); err != nil {
		return nil, err
	}
	d.touch(table)
	cq, err := clientQuery(q)
	if err != nil {
		return nil, err
	}
	rows, err := d.sc.Table(table).Read(ctx, cq)
	return items(rows), goError(err)
}

func (d *goDevice) Query(ctx context.Context, table string, q *Query) ([]Item, error) {
	if err := d.alive(); err != nil {
		return nil, err
	}
	cq, err := clientQuery(q)
	if err != nil {
		return nil, err
	}
	rows, err := d.c.Table(table).Query(ctx, cq)
	return items(rows), goError(err)
}

func (d *goDevice) Push(ctx context.Context, tables ...string) (PushResult, error) {
	if err := d.alive(); err != nil {
		return PushResult{}, err
	}
	var opts []client.PushOption
	if len(tables) > 0 {
		opts = append(opts, client.OnlyTables(tables...))
	}
	res, err := d.sc.Push(ctx, opts...)
	var pf *client.PushFailedError
	switch {
	case res != nil:
		d.remember(res.Errors)
		return PushResult{Status: statusName(res.Status), Errors: opErrors(res.Errors)}, nil
	case errors.As(err, &pf):
		d.remember(pf.Errors)
		return PushResult{Status: statusName(pf.Status), Errors: opErrors(pf.Errors)}, nil
	case err != nil:
		return PushResult{}, goError(err)
	}
	return PushResult{Status: StatusComplete}, nil
}

func (d *goDevice) remember(errs []*client.TableOperationError) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.lastErrs = errs
}

func (d *goDevice) Pull(ctx context.Context, table string, q *Query, queryID string) error {
	if err := d.alive(); err != nil {
		return err
	}
	d.touch(table)
	cq, err := clientQuery(q)
	if err != nil {
		return err
	}
	err = d.sc.Table(table).Pull(ctx, cq, queryID)
	if pf := (*client.PushFailedError)(nil); errors.As(err, &pf) {
		d.remember(pf.Errors)
	}
	return goError(err)
}

func (d *goDevice) Purge(ctx context.Context, table string, q *Query, queryID string, force bool) error {
	if err := d.alive(); err != nil {
		return err
	}
	d.touch(table)
	cq, err := clientQuery(q)
	if err != nil {
		return err
	}
	err = d.sc.Table(table).Purge(ctx, cq, queryID, force)
	if pf := (*client.PushFailedError)(nil); errors.As(err, &pf) {
		d.remember(pf.Errors)
	}
	return goError(err)
}

func (d *goDevice) Errors(ctx context.Context) ([]OpError, error) {
	if err := d.alive(); err != nil {
		return nil, err
	}
	errs, err := d.sc.OperationErrors(ctx)
	if err != nil {
		return nil, goError(err)
	}
	return opErrors(errs), nil
}

func (d *goDevice) Resolve(ctx context.Context, table, id, how string, item Item) error {
	if err := d.alive(); err != nil {
		return err
	}
	d.touch(table)
	d.mu.Lock()
	errs := d.lastErrs
	d.mu.Unlock()
	if len(errs) == 0 {
		stored, err := d.sc.OperationErrors(ctx)
		if err != nil {
			return goError(err)
		}
		errs = stored
	}
	var target *client.TableOperationError
	for _, e := range errs {
		if strings.EqualFold(e.Table, table) && strings.EqualFold(e.ItemID, id) {
			target = e
		}
	}
	if target == nil {
		return &Error{Kind: KindNotFound, Message: fmt.Sprintf("no unhandled error for %s/%s", table, id)}
	}
	switch how {
	case "cancel-and-discard":
		return goError(target.CancelAndDiscardItem(ctx))
	case "cancel-and-update":
		return goError(target.CancelAndUpdateItem(ctx, client.Item(item)))
	case "update-operation":
		return goError(target.UpdateOperation(ctx, client.Item(item)))
	}
	return &Error{Kind: KindUnsupported, Message: fmt.Sprintf("no resolution %q", how)}
}

func (d *goDevice) Snapshot(ctx context.Context, tables []string) (check.Snapshot, error) {
	if err := d.alive(); err != nil {
		return check.Snapshot{}, err
	}
	for _, t := range tables {
		d.touch(t)
	}
	snap, err := check.Take(ctx, d.st, tables)
	if err != nil {
		return snap, &Error{Kind: KindInternal, Message: "reading the store: " + err.Error(), cause: err}
	}
	return snap, nil
}

// FailStore makes the n-th store transaction from now fail once (drivers.StoreFaulter).
func (d *goDevice) FailStore(ctx context.Context, n int) error {
	if err := d.alive(); err != nil {
		return err
	}
	return d.arm(d.fs.FailAt(n))
}

// CrashStore makes the device die right after its n-th store transaction from now commits
// (drivers.StoreFaulter).
func (d *goDevice) CrashStore(ctx context.Context, n int) error {
	if err := d.alive(); err != nil {
		return err
	}
	if !d.durable {
		return &Error{Kind: KindUnsupported, Message: "a crash needs a store that outlives the device (sqlite), not memory"}
	}
	return d.arm(d.fs.CrashAfter(n))
}

func (d *goDevice) arm(err error) error {
	if err != nil {
		return &Error{Kind: KindInvalidOperation, Message: err.Error(), cause: err}
	}
	return nil
}

// alive fails once the device crashed: only Close, and opening the store again, remain.
func (d *goDevice) alive() error {
	if c := d.fs.Crashed(); c != nil {
		return &Error{Kind: KindStore, Message: fmt.Sprintf("the device crashed right after its store transaction %d committed (a store-fault); restart it", c.N), cause: c}
	}
	return nil
}

var _ StoreFaulter = (*goDevice)(nil)

func (d *goDevice) Close(context.Context) error {
	d.hc.CloseIdleConnections()
	if err := d.st.Close(); err != nil {
		return &Error{Kind: KindInternal, Message: "closing the store: " + err.Error(), cause: err}
	}
	return nil
}

// clientQuery turns a scenario's query into the client's; nil for none.
func clientQuery(q *Query) (*client.Query, error) {
	if q == nil {
		return nil, nil
	}
	cq := client.NewQuery()
	if q.Filter != "" {
		cq = cq.Where(q.Filter)
	}
	if q.OrderBy != "" {
		for _, part := range strings.Split(q.OrderBy, ",") {
			fields := strings.Fields(part)
			switch {
			case len(fields) == 1 || len(fields) == 2 && strings.EqualFold(fields[1], "asc"):
				cq = cq.OrderBy(fields[0])
			case len(fields) == 2 && strings.EqualFold(fields[1], "desc"):
				cq = cq.OrderByDesc(fields[0])
			default:
				return nil, &Error{Kind: KindInvalidQuery, Message: fmt.Sprintf("orderby %q: want column [asc|desc], comma-separated", q.OrderBy)}
			}
		}
	}
	if q.Top != nil {
		cq = cq.Top(*q.Top)
	}
	if q.Skip != nil {
		cq = cq.Skip(*q.Skip)
	}
	return cq, goError(cq.Err())
}

func items(rows []client.Item) []Item {
	if rows == nil {
		return nil
	}
	out := make([]Item, len(rows))
	for i, r := range rows {
		out[i] = r
	}
	return out
}

// statusName renders a push status as the protocol names it: CancelledByNetworkError is
// cancelled-by-network-error.
func statusName(s client.PushStatus) string {
	var b strings.Builder
	for i, c := range s.String() {
		if c >= 'A' && c <= 'Z' {
			if i > 0 {
				b.WriteByte('-')
			}
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

func opErrors(errs []*client.TableOperationError) []OpError {
	if len(errs) == 0 {
		return nil
	}
	out := make([]OpError, len(errs))
	for i, e := range errs {
		out[i] = OpError{Table: e.Table, ItemID: e.ItemID, Kind: string(e.Kind), Status: e.Status, Message: e.Message,
			Item: e.Item, ServerItem: e.ServerItem}
	}
	return out
}

// goKinds says, in order of precedence, which kind a client error is: the first that
// matches is its kind.
var goKinds = []struct {
	kind string
	is   error
}{
	{KindPushCancelled, client.ErrPushCancelled},
	{KindPushFailed, client.ErrPushFailed},
	{KindNetwork, client.ErrNetwork},
	{KindAuth, client.ErrAuthentication},
	{KindPurgePendingChanges, client.ErrPurgePendingChanges},
	{KindInvalidOperation, client.ErrInvalidOperation},
	{KindInvalidQuery, client.ErrInvalidQuery},
	{KindNotFound, client.ErrNotFound},
	{KindConflict, client.ErrConflict},
	{KindConflict, client.ErrPreconditionFailed},
	{KindBadResponse, client.ErrBadResponse},
	{KindStore, client.ErrStore},
}

// goError is a client error as a driver error: its kind, HTTP status, and for a push that
// failed under a pull or purge, that push's status and errors.
func goError(err error) error {
	if err == nil {
		return nil
	}
	var de *Error
	if errors.As(err, &de) {
		return err
	}
	e := &Error{Kind: KindInternal, Message: err.Error(), cause: err}
	for _, k := range goKinds {
		if errors.Is(err, k.is) {
			e.Kind = k.kind
			break
		}
	}
	var pf *client.PushFailedError
	var he *client.HTTPError
	switch {
	case errors.As(err, &pf):
		e.PushStatus = statusName(pf.Status)
		e.Errors = opErrors(pf.Errors)
	case errors.As(err, &he):
		e.Status = he.Status
		if e.Kind == KindInternal {
			e.Kind = KindHTTP
		}
	}
	return e
}

// FromClientError is an error of package client as a driver error (nil stays nil): for Go
// code that drives the client itself, such as the scenario runner's other writer.
func FromClientError(err error) error { return goError(err) }
