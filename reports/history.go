package reports

import (
	"time"
)

// Actors that are not devices. A device's lane is named for the device.
const (
	// ActorServer is the scenario's server actor: writes made on the server's side (the
	// fake server's Go or admin API, or the table API as another client against a real
	// server), and faults, clock moves and checks the runner made there.
	ActorServer = "server"
	// ActorWriter is another writer: a concurrent write no device made (a concurrent-write
	// fault, the campaign's other writer).
	ActorWriter = "writer"
)

// History is what happened during one result, for its timeline: every request each device
// sent and what the server answered, the server actor's writes, and where each step began
// and ended. Times are offsets from Started, so a history reads the same in any time zone
// and survives a JSON round trip exactly.
type History struct {
	Started time.Time   `json:"started,omitzero"`
	Events  []Event     `json:"events,omitempty"`
	Steps   []StepSpan  `json:"steps,omitempty"`
	Lanes   []string    `json:"lanes,omitempty"` // the lanes in the order to draw them; "" derives it
	Cut     *HistoryCut `json:"cut,omitempty"`   // what the limits left out; nil when nothing
}

// HistoryCut says what Limits removed from a history, so the timeline can say so.
type HistoryCut struct {
	// Events is how many events were left out (the timeline shows the rest, in order).
	Events int `json:"events,omitempty"`
	// Bodies is how many bodies or rows were cut short or left out.
	Bodies int `json:"bodies,omitempty"`
	// Reason says which limit did it, e.g. "per-result cap of 256 KiB".
	Reason string `json:"reason,omitempty"`
}

// StepSpan is one step of the scenario as it ran: its index and line in the file, what it
// was, and when it began and ended.
type StepSpan struct {
	Index int           `json:"index"` // 1-based, as in Failure.Step; 0 is the end-of-scenario checks
	Line  int           `json:"line,omitempty"`
	What  string        `json:"what"` // the step as written: "phone: push"
	Start time.Duration `json:"startNs"`
	End   time.Duration `json:"endNs"`
	// Skipped is the reason the step did not run ("" when it ran).
	Skipped string `json:"skipped,omitempty"`
}

// Event is one request (or one write on the server's side) on the timeline.
type Event struct {
	// Seq orders events as the server applied them (the fake server's history), or as the
	// fault proxy in front of another server saw them. Unique within a history.
	Seq int `json:"seq"`
	// Start and End are when the request was sent and when its answer (or error) came,
	// from History.Started; End == Start for an instant, such as a direct write.
	Start time.Duration `json:"startNs"`
	End   time.Duration `json:"endNs"`
	// Actor is the lane: a device's name, ActorServer or ActorWriter.
	Actor string `json:"actor"`
	// Step is the 1-based index of the step that caused it (0: setup or end checks).
	Step int `json:"step,omitempty"`

	Method string `json:"method,omitempty"`
	Path   string `json:"path,omitempty"`
	Query  string `json:"query,omitempty"`
	// Op is query, lookup, insert, update, delete or undelete, or "write" for a direct write.
	Op     string `json:"op,omitempty"`
	Table  string `json:"table,omitempty"`
	ItemID string `json:"itemId,omitempty"`
	// Status is the HTTP status the client got; 0 when it got none (a reset, a dropped
	// response, a timeout: Error then says what it got instead).
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`

	// IfMatch are the versions the request was conditional on (If-Match without "*", or a
	// PATCH body's version): what the client sent.
	IfMatch []string `json:"ifMatch,omitempty"`
	// VersionBefore is the row's version on the server before the request, when the server
	// says (the fake server's history); Version the version after it (the ETag or the
	// answer's version): what the client received, or the row's version after a direct write.
	VersionBefore string `json:"versionBefore,omitempty"`
	Version       string `json:"version,omitempty"`
	// Applied is true when the request changed the table.
	Applied bool `json:"applied,omitempty"`
	// Conflict marks a request the server refused as a conflict (409, 412) or that the
	// client handled as one.
	Conflict bool `json:"conflict,omitempty"`
	// Faults are the fault rules that fired on the request.
	Faults []FaultHit `json:"faults,omitempty"`
	// Rows is how many rows a query returned.
	Rows int `json:"rows,omitempty"`

	// RequestBody and ResponseBody are the bodies as sent and received, and RowBefore and
	// RowAfter the row on the server around the request, each as JSON text. Limits cut
	// each to BodyBytes, ending it with a marker that says how much was cut.
	RequestBody  string `json:"requestBody,omitempty"`
	ResponseBody string `json:"responseBody,omitempty"`
	RowBefore    string `json:"rowBefore,omitempty"`
	RowAfter     string `json:"rowAfter,omitempty"`
	// Note is anything else worth showing (e.g. "client-wins retry 2").
	Note string `json:"note,omitempty"`
}

// FaultHit is a fault rule that fired on a request.
type FaultHit struct {
	ID     string `json:"id,omitempty"`
	Action string `json:"action"`
}

// IsConflict says whether the event shows a conflict: Conflict, or a 409 or 412 answer.
func (e *Event) IsConflict() bool {
	return e.Conflict || e.Status == 409 || e.Status == 412
}
