package fakeserver

import (
	"encoding/json"
	"io"
	"time"
)

// Op names what a request asked of a table.
type Op string

const (
	OpQuery    Op = "query"
	OpLookup   Op = "lookup"
	OpInsert   Op = "insert"
	OpUpdate   Op = "update"
	OpDelete   Op = "delete"
	OpUndelete Op = "undelete"
)

// Source says where an event came from.
const (
	SourceHTTP   = "http"   // a client's request
	SourceDirect = "direct" // a server-side write through the Go or admin API
	// SourceDropped marks where events were dropped from a capped history: such a marker
	// stands first in what History and HistorySince return, with Seq the last event dropped
	// and Dropped how many of the events asked for are gone.
	SourceDropped = "dropped"
)

// Event is one entry of the history: a request the server answered, or a direct write.
// Seq is global and gapless; events are appended in the order the server applied them, so
// the history is a linearisation of everything that happened.
type Event struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"` // the server clock when the event was handled
	// Began and Ended are the wall-clock times the request came in and its answer went out
	// (equal for a direct write), for timelines: the server clock may be simulated.
	Began  time.Time `json:"began,omitzero"`
	Ended  time.Time `json:"ended,omitzero"`
	Source string    `json:"source"`
	// Client is X-ZUMO-INSTALLATION-ID, else the User-Agent; "server" for direct writes.
	Client string `json:"client,omitempty"`
	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	Query  string `json:"query,omitempty"`
	Op     Op     `json:"op,omitempty"`
	Table  string `json:"table,omitempty"`
	ItemID string `json:"itemId,omitempty"`
	Status int    `json:"status"`
	// VersionBefore and VersionAfter are the row's version around the request ("" when the
	// row did not exist); they differ only when Applied.
	VersionBefore string `json:"versionBefore,omitempty"`
	VersionAfter  string `json:"versionAfter,omitempty"`
	// UpdatedAt is the row's updatedAt after a write that was applied.
	UpdatedAt time.Time `json:"updatedAt,omitzero"`
	// Applied is true when the request changed the table.
	Applied bool `json:"applied"`
	// Body is a write's user columns as the server read them (system columns left out).
	Body map[string]any `json:"body,omitempty"`
	// Precondition is the versions a write was conditional on: its If-Match (without "*"),
	// or, for a PATCH without one, the version in its body. A write may apply only when the
	// row's VersionBefore is one of them.
	Precondition []string `json:"precondition,omitempty"`
	// Rows is how many rows a query returned, Tombstones how many of them were deleted
	// rows, and IncludeDeleted whether the query asked for those.
	Rows           int  `json:"rows,omitempty"`
	Tombstones     int  `json:"tombstones,omitempty"`
	IncludeDeleted bool `json:"includeDeleted,omitempty"`
	// Cut is true when the server's page size cut a query's answer short of rows that
	// matched and were asked for; Next when the answer said there is a next page (a Link
	// rel=next). The protocol wants Next whenever Cut (docs/protocol.md, Paging).
	Cut  bool `json:"cut,omitempty"`
	Next bool `json:"next,omitempty"`
	// Error is the message of a refused request.
	Error string `json:"error,omitempty"`
	// Faults are the fault rules that fired on the request, in the order they acted. A
	// drop-response or truncate keeps the status the server meant to send: the client got
	// no answer, or a cut one. A request answered by a fault itself (status, reset,
	// timeout, offline) has Status 0 when nothing at all was sent.
	Faults []FaultHit `json:"faults,omitempty"`
	// Truncated is set when the event keeps less than the request had: a string cut to 2 KiB
	// (ending in "…"), or a body left out for its size (BodyBytes).
	Truncated bool `json:"truncated,omitempty"`
	BodyBytes int  `json:"bodyBytes,omitempty"`
	// Dropped is, on a SourceDropped marker, how many events are missing.
	Dropped uint64 `json:"dropped,omitempty"`
}

// WriteJSONLines writes events as JSON Lines: one object per line.
func WriteJSONLines(w io.Writer, events []Event) error {
	enc := json.NewEncoder(w)
	for i := range events {
		if err := enc.Encode(&events[i]); err != nil {
			return err
		}
	}
	return nil
}

// ReadJSONLines reads what WriteJSONLines wrote.
func ReadJSONLines(r io.Reader) ([]Event, error) {
	dec := json.NewDecoder(r)
	var events []Event
	for {
		var e Event
		if err := dec.Decode(&e); err == io.EOF {
			return events, nil
		} else if err != nil {
			return events, err
		}
		events = append(events, e)
	}
}

// bodyOf is a write's user columns for the history, numbers as float64 (as encoding/json
// reads them back), so that the history survives a JSON Lines round trip unchanged.
func bodyOf(b *body) map[string]any {
	if len(b.data) == 0 {
		return nil
	}
	out := make(map[string]any, len(b.data))
	for k, v := range b.data {
		if n, ok := v.(json.Number); ok {
			f, _ := n.Float64()
			v = f
		}
		out[k] = v
	}
	return out
}

// HistoryStats says what the history holds: the last sequence number given out, how many
// events are kept and how many were dropped (oldest first) to stay within the limits, since
// the server started or was last reset.
type HistoryStats struct {
	LastSeq    uint64 `json:"lastSeq"`
	Kept       int    `json:"kept"`
	Dropped    uint64 `json:"dropped"`
	Limit      int    `json:"limit"`
	Bytes      int64  `json:"bytes"`
	BytesLimit int64  `json:"bytesLimit"`
}
