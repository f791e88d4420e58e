// Package store defines what the sync client keeps locally: the Store interface, the records
// it holds (rows, operations, operation errors, config) and the errors a store returns.
//
// A store is transactional. The sync client does every local write and its operation in one
// [Store.Update], so a row never changes without its operation or the reverse; push results,
// pull pages and purges are each one Update too. Implementations: store/memory (in-memory) and
// store/sqlite (durable). store/storetest holds the conformance suite every store must pass.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// Store is a transactional local store.
//
// View runs fn with a consistent snapshot; several may run at once, also while an Update
// runs. Update runs fn with exclusive write access: when fn returns nil every write it made
// becomes visible at once (and, for a durable store, durable); when fn returns an error or
// panics, none does, and Update returns that error (a panic is re-raised after the rollback).
// A Reader or Writer must not be used after fn returns. After Close, every method returns
// ErrClosed. Both honour ctx while waiting for access.
type Store interface {
	View(ctx context.Context, fn func(Reader) error) error
	Update(ctx context.Context, fn func(Writer) error) error
	Close() error
}

// Reader reads one consistent state of a store.
//
// Table names and item ids match case-insensitively (ASCII), as in the SDKs' stores; a row
// keeps the spelling of the id it was first stored with. Rows are returned as fresh maps the
// caller owns, with values as encoding/json decodes them (nil, bool, float64, string, and
// []any / map[string]any for nested values).
type Reader interface {
	// Row returns the row of table with the given id, or an error wrapping ErrNotFound.
	Row(table, id string) (map[string]any, error)
	// Rows returns the rows of table that match q, ordered by q.OrderBy (ties, and every row
	// when there is no order, by id ascending, ordinal), after q.Skip, at most q.Top of them
	// (0: no limit), limited to q.Select's columns plus id when Select is set. total is the
	// number of rows matching q.Filter before Skip and Top.
	Rows(table string, q Query) (rows []map[string]any, total int, err error)

	// Operations returns the queued operations of the given tables (all tables when none
	// given) in ascending Sequence.
	Operations(tables ...string) ([]Operation, error)
	// Operation returns the operation with this ID, or an error wrapping ErrNotFound.
	Operation(id string) (Operation, error)
	// OperationFor returns the operation queued for one item, or an error wrapping ErrNotFound.
	// There is at most one.
	OperationFor(table, itemID string) (Operation, error)

	// Errors returns the recorded operation errors, ordered by their operation's Sequence.
	Errors() ([]OperationError, error)
	// Error returns the error recorded for an operation, or an error wrapping ErrNotFound.
	Error(operationID string) (OperationError, error)

	// Config returns a configuration value (a delta token, say); ok is false when unset.
	Config(key string) (value string, ok bool, err error)
	// ConfigKeys returns the keys that start with prefix (case-sensitive), sorted.
	ConfigKeys(prefix string) ([]string, error)
}

// Writer reads and writes inside one Update.
type Writer interface {
	Reader
	// PutRow stores row in table, replacing the whole row with the same id (which keeps its
	// first spelling). The row must have a non-empty string id and be JSON-encodable: else an
	// error wrapping ErrInvalid. The store keeps its own copy.
	PutRow(table string, row map[string]any) error
	// DeleteRow removes a row; removing a missing row is not an error.
	DeleteRow(table, id string) error
	// DeleteRows removes the rows of table matching filter (every row when nil) and returns
	// how many it removed.
	DeleteRows(table string, filter odata.Expr) (int, error)

	// PutOperation stores op, replacing the operation with the same ID. At most one
	// operation may exist per (Table, ItemID): storing a second with another ID is an error
	// wrapping ErrInvalid. ID, Table, ItemID, Kind and State must be set.
	PutOperation(op Operation) error
	// DeleteOperation removes an operation (and not its error); a missing one is not an error.
	DeleteOperation(id string) error
	// MaxSequence returns the greatest Sequence of any queued operation, 0 when none.
	MaxSequence() (int64, error)

	// PutError records the error of an operation, replacing any earlier one for it.
	PutError(e OperationError) error
	// DeleteError removes the error recorded for an operation; a missing one is not an error.
	DeleteError(operationID string) error

	// SetConfig sets a configuration value; DeleteConfig removes one (missing: no error).
	SetConfig(key, value string) error
	DeleteConfig(key string) error
}

// Query selects rows of one table. The zero Query selects every row in id order.
type Query struct {
	Filter  odata.Expr      // nil: every row
	OrderBy []odata.OrderBy // ties broken by id
	Skip    int
	Top     int      // 0: no limit
	Select  []string // nil: every column
}

// OpKind is what an operation does on the server.
type OpKind string

// The operation kinds.
const (
	Insert OpKind = "insert"
	Update OpKind = "update"
	Delete OpKind = "delete"
)

// OpState is where an operation is in its life.
type OpState string

// The operation states.
const (
	Pending   OpState = "pending"   // not sent since it was queued or last changed
	Attempted OpState = "attempted" // a push has sent (or was about to send) it
	Failed    OpState = "failed"    // the last push recorded an error for it
)

// Operation is one queued change to one item.
type Operation struct {
	ID     string
	Kind   OpKind
	State  OpState
	Table  string
	ItemID string
	// Item is the item a delete sends (its last local value, with its version); nil for
	// inserts and updates, which send the row as it is in the store at push time.
	Item     map[string]any
	Sequence int64 // queue position: pushes go in ascending Sequence
	Version  int64 // the operation record's own version, bumped on every change to it
}

// OperationError is what a push recorded about an operation that failed.
type OperationError struct {
	OperationID      string
	OperationVersion int64 // the operation's Version when the error was recorded
	Kind             OpKind
	Table            string
	ItemID           string
	Status           int    // the HTTP status; 0 when there was no response
	Message          string // what went wrong, for people
	Item             map[string]any
	RawResponse      []byte         // the response body as received
	ServerItem       map[string]any // the server's item, when the response carried one (409, 412)
	Sequence         int64          // the operation's Sequence, for ordering
}

// Errors a store returns. Each is wrapped with details; test with errors.Is.
var (
	ErrClosed   = errors.New("store: closed")
	ErrNotFound = errors.New("store: not found")
	ErrInvalid  = errors.New("store: invalid record")
)

// CheckOperation returns an error wrapping ErrInvalid when op lacks a field every store
// needs: ID, Table, ItemID, Kind and State.
func CheckOperation(op Operation) error {
	var missing []string
	for _, f := range []struct{ name, value string }{
		{"ID", op.ID}, {"Table", op.Table}, {"ItemID", op.ItemID}, {"Kind", string(op.Kind)}, {"State", string(op.State)},
	} {
		if f.value == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return Invalid("operation %q lacks %s", op.ID, strings.Join(missing, ", "))
	}
	return nil
}

// EncodeError checks an operation error every store must refuse (no OperationID, an item
// JSON cannot encode) and returns its Item and ServerItem as JSON (nil for a nil map).
func EncodeError(e OperationError) (item, serverItem []byte, err error) {
	if e.OperationID == "" {
		return nil, nil, Invalid("an operation error needs an OperationID")
	}
	encode := func(m map[string]any, what string) ([]byte, error) {
		if m == nil {
			return nil, nil
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, Invalid("error of operation %q: %s: %v", e.OperationID, what, err)
		}
		return b, nil
	}
	if item, err = encode(e.Item, "item"); err != nil {
		return nil, nil, err
	}
	if serverItem, err = encode(e.ServerItem, "server item"); err != nil {
		return nil, nil, err
	}
	return item, serverItem, nil
}

// RowID returns a row's id, or an error wrapping ErrInvalid when it has no non-empty string id.
func RowID(table string, row map[string]any) (string, error) {
	id, ok := row["id"].(string)
	if !ok || id == "" {
		return "", Invalid("table %q: a row needs a non-empty string id, got %#v", table, row["id"])
	}
	return id, nil
}

// Invalid returns an error wrapping ErrInvalid.
func Invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// NotFound returns an error wrapping ErrNotFound.
func NotFound(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrNotFound, fmt.Sprintf(format, args...))
}
