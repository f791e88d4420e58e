// Package drivers is how conflictlab talks to a sync client under test. A Driver opens
// Devices; a Device is one app's sync client on its own store, and its methods are the
// scenario ops (local writes, reads, push, pull, purge, the queue, resolutions, a snapshot
// of the store for the checkers). The scenario runner and the property machine use nothing
// else of a client, so any client can stand in:
//
//   - Go() is the built-in driver over this module's client package;
//   - Start runs any other client as a child process speaking JSON Lines (docs/drivers.md),
//     such as the JavaScript SDK's driver in drivers/js.
//
// Errors a Device returns are *Error values with a Kind (KindOf reads it), so a verdict never
// depends on one client's error types.
package drivers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/check"
)

// ProtocolVersion is the version of the driver protocol this package speaks.
const ProtocolVersion = 1

// Item is a row: a JSON object.
type Item = map[string]any

// A Driver opens devices of one client SDK.
type Driver interface {
	// Info names the driver, its SDK and what it can do.
	Info() Info
	// Open starts a device on its store (reopening the store when its file exists).
	Open(ctx context.Context, cfg DeviceConfig) (Device, error)
	// Close ends the driver and every device still open.
	Close() error
}

// Info is what a driver says of itself.
type Info struct {
	Protocol     int          `json:"protocol"`
	Driver       string       `json:"driver"`
	SDK          string       `json:"sdk"`
	Version      string       `json:"version"`
	Capabilities Capabilities `json:"capabilities"`
}

// String is "driver (sdk version)".
func (i Info) String() string { return fmt.Sprintf("%s (%s %s)", i.Driver, i.SDK, i.Version) }

// Capabilities are what a driver can do; a scenario that needs anything else is skipped.
type Capabilities struct {
	Strategies []string `json:"strategies"`
	Options    []string `json:"options"`
	Stores     []string `json:"stores"`
	Dialects   []string `json:"dialects"`
	Ops        []string `json:"ops"`
}

// Lacks says what of the given needs the capabilities do not offer, as a reason for a
// skip ("" when nothing is lacking).
func (c Capabilities) Lacks(need Needs) string {
	var out []string
	add := func(what string, have, want []string) {
		for _, w := range want {
			if w != "" && !slices.Contains(have, w) {
				out = append(out, what+" "+w)
			}
		}
	}
	add("strategy", c.Strategies, need.Strategies)
	add("option", c.Options, need.Options)
	add("store", c.Stores, need.Stores)
	add("dialect", c.Dialects, need.Dialects)
	add("op", c.Ops, need.Ops)
	if len(out) == 0 {
		return ""
	}
	slices.Sort(out)
	return "the client has no " + strings.Join(slices.Compact(out), ", no ")
}

// Needs is what a scenario asks of a client.
type Needs struct {
	Strategies, Options, Stores, Dialects, Ops []string
}

// DeviceConfig is one device: its name, the server, its store, strategy and options.
type DeviceConfig struct {
	// Name is the device's name in the scenario, unique among the open devices.
	Name string
	// URL is the server's base URL; Dialect "v2" or "v1".
	URL     string
	Dialect string
	// InstallationID is sent as X-ZUMO-INSTALLATION-ID: the server's history names the
	// device by it.
	InstallationID string
	Store          StoreConfig
	// Strategy is client-wins, server-wins, cancel or manual.
	Strategy string
	Options  Options
	// Timeout is the client's HTTP timeout.
	Timeout time.Duration
	// Transport, when set, carries the built-in driver's requests (the embedded server's
	// in-memory transport); drivers in another process cannot use it.
	Transport http.RoundTripper
}

// StoreConfig is where a device keeps its rows: Kind "memory" or "sqlite" (with Path).
type StoreConfig struct {
	Kind string `json:"kind"`
	Path string `json:"path,omitempty"`
}

// Options are docs/semantics.md's options where the SDKs differ, as scenario files name them.
type Options struct {
	PushScope                  string `json:"pushScope,omitempty"` // context (default) or table
	CollapseUpdateDeleteToTail bool   `json:"collapseUpdateDeleteToTail,omitempty"`
	PurgePushesFirst           bool   `json:"purgePushesFirst,omitempty"`
	TreatIdenticalAsSuccess    bool   `json:"treatIdenticalAsSuccess,omitempty"`
	SkippedRowsMoveToken       bool   `json:"skippedRowsMoveToken,omitempty"`
	PageSize                   int    `json:"pageSize,omitempty"`
	MaxTries                   int    `json:"maxTries,omitempty"`
}

// Names are the options set, by their names in docs/drivers.md.
func (o Options) Names() []string {
	var out []string
	for _, f := range []struct {
		name string
		set  bool
	}{
		{"pushScope", o.PushScope != "" && o.PushScope != "context"},
		{"collapseUpdateDeleteToTail", o.CollapseUpdateDeleteToTail},
		{"purgePushesFirst", o.PurgePushesFirst},
		{"treatIdenticalAsSuccess", o.TreatIdenticalAsSuccess},
		{"skippedRowsMoveToken", o.SkippedRowsMoveToken},
		{"pageSize", o.PageSize > 0},
		{"maxTries", o.MaxTries > 0},
	} {
		if f.set {
			out = append(out, f.name)
		}
	}
	return out
}

// Query is a query as scenarios write it: an OData filter and order, top and skip.
type Query struct {
	Filter  string `json:"filter,omitempty"`
	OrderBy string `json:"orderby,omitempty"`
	Top     *int   `json:"top,omitempty"`
	Skip    *int   `json:"skip,omitempty"`
}

// A Device is one app's sync client on its store.
type Device interface {
	Insert(ctx context.Context, table string, item Item) (Item, error)
	Update(ctx context.Context, table string, item Item) (Item, error)
	Delete(ctx context.Context, table string, item Item) error
	// Lookup reads one local row; a missing one is an error of kind not-found.
	Lookup(ctx context.Context, table, id string) (Item, error)
	// Read queries the local store; Query the server (an online read).
	Read(ctx context.Context, table string, q *Query) ([]Item, error)
	Query(ctx context.Context, table string, q *Query) ([]Item, error)
	// Push pushes the queue (only the given tables when some are named). A push that ends
	// badly is not an error: its status and errors say how it ended.
	Push(ctx context.Context, tables ...string) (PushResult, error)
	Pull(ctx context.Context, table string, q *Query, queryID string) error
	Purge(ctx context.Context, table string, q *Query, queryID string, force bool) error
	// Errors are the operation errors left unhandled.
	Errors(ctx context.Context) ([]OpError, error)
	// Resolve settles the unhandled error of one item: how is cancel-and-update,
	// cancel-and-discard or update-operation.
	Resolve(ctx context.Context, table, id, how string, item Item) error
	// Snapshot reads the store: rows of the tables, the queue, errors and delta tokens.
	Snapshot(ctx context.Context, tables []string) (check.Snapshot, error)
	// Close closes the device and its store (the file stays).
	Close(ctx context.Context) error
}

// StoreFaulter is a Device whose store can be made to fail: the scenario op store-fault. A
// driver whose devices are StoreFaulters lists the op "store-fault" in its capabilities.
type StoreFaulter interface {
	// FailStore makes the device's n-th store transaction from now (n >= 1) fail, once: what
	// it wrote is rolled back, and the op that made it fails or ends as the client handles a
	// store error. Later transactions work again.
	FailStore(ctx context.Context, n int) error
	// CrashStore makes the device die right after its n-th store transaction from now
	// (n >= 1) commits, as an app killed there: the op that made it fails, and every later
	// call but Close fails with an error of kind store until the device is closed and opened
	// again on its store (a restart), which then holds exactly what was committed. It needs a
	// durable store (sqlite); on another an error of kind unsupported.
	CrashStore(ctx context.Context, n int) error
}

// PushResult is how a push ended.
type PushResult struct {
	// Status is complete, cancelled-by-network-error, cancelled-by-authentication-error,
	// cancelled-by-operation, cancelled-by-context, cancelled-by-store-error or
	// cancelled-by-error.
	Status string    `json:"status"`
	Errors []OpError `json:"errors,omitempty"`
}

// Complete reports whether the push completed with nothing left unhandled.
func (r PushResult) Complete() bool { return r.Status == StatusComplete && len(r.Errors) == 0 }

// Push statuses.
const (
	StatusComplete              = "complete"
	StatusCancelledByNetwork    = "cancelled-by-network-error"
	StatusCancelledByAuth       = "cancelled-by-authentication-error"
	StatusCancelledByOperation  = "cancelled-by-operation"
	StatusCancelledByContext    = "cancelled-by-context"
	StatusCancelledByStoreError = "cancelled-by-store-error"
	// StatusCancelledByError: the push stopped at an operation's error (a 400, 404 or 5xx),
	// as an SDK does that does not go on past one (the JavaScript SDK).
	StatusCancelledByError       = "cancelled-by-error"
	statusCancelledUnknownReason = "cancelled"
)

// PushStatuses are the statuses a push can end with.
var PushStatuses = []string{StatusComplete, StatusCancelledByNetwork, StatusCancelledByAuth, StatusCancelledByOperation,
	StatusCancelledByContext, StatusCancelledByStoreError, StatusCancelledByError}

// OpError is an operation error a push left.
type OpError struct {
	Table      string `json:"table"`
	ItemID     string `json:"itemId"`
	Kind       string `json:"kind"`   // insert, update or delete
	Status     int    `json:"status"` // HTTP; 0 without an answer
	Message    string `json:"message,omitempty"`
	Item       Item   `json:"item,omitempty"`
	ServerItem Item   `json:"serverItem,omitempty"`
}

// Error kinds: those a scenario's expect.error names, and three of the protocol's own.
const (
	KindInvalidOperation    = "invalid-operation"
	KindInvalidQuery        = "invalid-query"
	KindPushFailed          = "push-failed"
	KindPushCancelled       = "push-cancelled"
	KindNetwork             = "network"
	KindAuth                = "auth"
	KindPurgePendingChanges = "purge-pending-changes"
	KindNotFound            = "not-found"
	KindConflict            = "conflict"
	KindBadResponse         = "bad-response"
	KindHTTP                = "http"
	// KindStore: the client's local store failed, or its device crashed (a store-fault op).
	KindStore = "store"
	// KindUnsupported: the client cannot express what was asked; the run is skipped.
	KindUnsupported = "unsupported"
	// KindInternal: the driver itself broke.
	KindInternal = "internal"
	// KindDriver: the driver process failed (it exited, hung or broke the protocol).
	KindDriver = "driver"
)

// Kinds are the error kinds a driver may answer with.
var Kinds = []string{KindInvalidOperation, KindInvalidQuery, KindPushFailed, KindPushCancelled, KindNetwork, KindAuth,
	KindPurgePendingChanges, KindNotFound, KindConflict, KindBadResponse, KindHTTP, KindStore, KindUnsupported, KindInternal}

// Error is what a device's method failed with.
type Error struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	// Status is the HTTP status behind the error, when there was one.
	Status int `json:"status,omitempty"`
	// PushStatus and Errors describe the push a pull or purge made first, for push-failed
	// and push-cancelled.
	PushStatus string    `json:"pushStatus,omitempty"`
	Errors     []OpError `json:"errors,omitempty"`
	// Stderr is the end of a driver process's standard error, for kind driver.
	Stderr string `json:"-"`
	// cause is the client's own error, for the built-in driver.
	cause error
}

func (e *Error) Error() string {
	msg := e.Kind + ": " + e.Message
	if e.Stderr != "" {
		msg += "\n--- the driver's stderr (last lines) ---\n" + e.Stderr
	}
	return msg
}

func (e *Error) Unwrap() error { return e.cause }

// KindOf is the kind of a device's error: "" for nil, KindInternal for an error that is not
// an *Error.
func KindOf(err error) string {
	if err == nil {
		return ""
	}
	var de *Error
	if errors.As(err, &de) {
		return de.Kind
	}
	return KindInternal
}

// IsUnsupported reports whether err says the client cannot do what was asked.
func IsUnsupported(err error) bool { return KindOf(err) == KindUnsupported }

// Matches reports whether err is of the kind a scenario's expect names. An error has one
// kind, the most specific, but it may be of several: a pull whose push was cut off by the
// network is push-failed and network; one whose push met a 412 is push-failed and conflict.
// The others follow from the error's HTTP status, the status of the push it made and that
// push's operation errors, by the same rules for every driver. "any" matches every error.
func Matches(err error, kind string) bool {
	if err == nil {
		return false
	}
	if kind == "any" {
		return true
	}
	var e *Error
	if !errors.As(err, &e) {
		return kind == KindInternal
	}
	if e.Kind == kind {
		return true
	}
	opStatus := func(match func(int) bool) bool {
		for _, oe := range e.Errors {
			if match(oe.Status) {
				return true
			}
		}
		return false
	}
	switch kind {
	case KindPushFailed:
		return e.PushStatus != "" || e.Kind == KindPushCancelled
	case KindPushCancelled:
		return e.PushStatus == StatusCancelledByOperation
	case KindNetwork:
		return e.PushStatus == StatusCancelledByNetwork
	case KindAuth:
		return e.Status == http.StatusUnauthorized || e.PushStatus == StatusCancelledByAuth
	case KindConflict:
		conflict := func(s int) bool { return s == http.StatusConflict || s == http.StatusPreconditionFailed }
		return conflict(e.Status) || opStatus(conflict)
	case KindNotFound:
		notFound := func(s int) bool { return s == http.StatusNotFound }
		return notFound(e.Status) || opStatus(notFound)
	case KindHTTP:
		failed := func(s int) bool { return s >= 300 }
		return failed(e.Status) || opStatus(failed)
	}
	return false
}

// Validate reports whether the query can be sent: a filter that parses, an order of
// "column [asc|desc]" terms, a top and skip that are not negative.
func (q *Query) Validate() error {
	_, err := clientQuery(q)
	return err
}
