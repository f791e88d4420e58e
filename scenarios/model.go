// Package scenarios plays scripted sync scenarios: a YAML file (docs/scenario-format.md) names
// a server, clients with their own stores and strategies, and steps — local writes, push, pull,
// purge, another writer, faults, converge, checks — and the runner plays it against the
// embedded fake server (or an external one), checking every expectation and every property
// that applies.
package scenarios

import (
	"fmt"
	"strings"

	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// Strategies a scenario can be expanded under.
var Strategies = []string{"client-wins", "server-wins", "cancel", "manual"}

// Scenario is one file, loaded and checked.
type Scenario struct {
	Name        string
	Description string
	Labels      []string
	// Strategies, when not empty, runs the scenario once per strategy.
	Strategies []string
	// Requires names what the scenario needs of a server beyond what its steps show
	// (targets.Declarable): faults, clock, controlled.
	Requires []string
	Server   ServerSpec
	// Clients in the order the file names them.
	Clients []*ClientSpec
	Steps   []*Step
	// File is where the scenario was loaded from.
	File string
}

// Client returns the client named name, or nil.
func (s *Scenario) Client(name string) *ClientSpec {
	for _, c := range s.Clients {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// ServerSpec configures the embedded server.
type ServerSpec struct {
	Dialect  fakeserver.Dialect
	PageSize int
	MaxTop   int
	// SoftDelete false makes every table delete for real.
	SoftDelete bool
	// ClockStepMs is the simulated clock's step per write; 0 shares one updatedAt.
	ClockStepMs int
	Seed        int64
	// Tables are the initial rows, by table, in file order.
	Tables []TableRows
}

// TableRows are a table's initial rows.
type TableRows struct {
	Table string
	Rows  []map[string]any
}

// ClientSpec is one device.
type ClientSpec struct {
	Name string
	// Strategy is the client's own strategy; "" takes the scenario's (or manual).
	Strategy string
	// Store is memory or sqlite.
	Store string
	// Client names the driver of this device ("go", "js", or a command); "" takes the run's.
	Client  string
	Options ClientOptions
}

// ClientOptions are docs/semantics.md's options, as a scenario names them, and the client's
// HTTP timeout.
type ClientOptions struct {
	drivers.Options
	TimeoutMs int // the client's HTTP timeout
}

// Step is one line of the script.
type Step struct {
	// Index is the 1-based position in the file; Line its line.
	Index int
	Line  int
	// Actor is a client name, "server", "fault", "heal", "converge", "check" or "clock".
	Actor    string
	Op       *Op
	Fault    *fakeserver.Rule
	Heal     string
	Converge *Converge
	Check    *Check
	ClockMs  int
	Expect   *Expect
	// When lists the strategies the step runs under; empty: all.
	When []string
	// While, on a client's pull, is another op played while the pull waits for page AtPage
	// (its AtPage-th query of the table; 1 when 0): the pull's query is held by a hold fault
	// until While is done, then let go. While's actor is a client (the pull's own device only
	// for a local op) or the server actor, with an expect of its own. When the pull never
	// sends that query (its push failed, or it has fewer pages), While is played after it.
	While  *Step
	AtPage int
}

// Op is what a client or the server actor does.
type Op struct {
	Op      string
	Table   string
	Item    map[string]any
	ID      string
	Query   *Query
	QueryID string
	Force   bool
	How     string
	// Fail and Crash are a store-fault's: the device's Fail-th store transaction from now fails
	// once; it dies right after its Crash-th commits. One of them is set.
	Fail  int
	Crash int
}

// Query is a scenario's query: a filter and order in OData, top and skip.
type Query = drivers.Query

// Converge settles every client with the server.
type Converge struct {
	Rounds int
}

// Expect is what a step must do.
type Expect struct {
	Error  string
	Status string
	// Errors, when HasErrors, are the unhandled operation errors, in any order.
	Errors    []ErrorSpec
	HasErrors bool
	// Item, when HasItem, is what a lookup returns (nil: nothing).
	Item    map[string]any
	HasItem bool
	// Rows, when HasRows, are the ids a read returns, in order.
	Rows    []string
	HasRows bool
	// Requests, when HasRequests, are the requests the step caused; "..." matches any run.
	Requests    []string
	HasRequests bool
}

// ErrorSpec is one expected operation error.
type ErrorSpec struct {
	Table  string
	ID     string
	Status int
}

// Check holds expectations about the state of the server and the clients.
type Check struct {
	// Server: table → id → fields (nil: absent or deleted).
	Server map[string]map[string]map[string]any
	// Clients: name → its expectations.
	Clients    map[string]*ClientCheck
	Converged  bool
	Properties []string
}

// ClientCheck is what one client must hold.
type ClientCheck struct {
	Pending *int
	Errors  *int
	// Tables: table → id → fields (nil: absent).
	Tables map[string]map[string]map[string]any
}

// Describe is the step as a person reads it, for messages and reports.
func (st *Step) Describe() string {
	var b strings.Builder
	switch st.Actor {
	case "fault":
		fmt.Fprintf(&b, "fault: %s", st.Fault.Action)
		if st.Fault.ID != "" {
			fmt.Fprintf(&b, " (%s)", st.Fault.ID)
		}
	case "heal":
		fmt.Fprintf(&b, "heal: %s", st.Heal)
	case "converge":
		b.WriteString("converge")
	case "check":
		b.WriteString("check")
	case "clock":
		fmt.Fprintf(&b, "clock: advance %d ms", st.ClockMs)
	default:
		st.describeOp(&b)
		if st.While != nil {
			fmt.Fprintf(&b, ", while page %d waits: ", max(st.AtPage, 1))
			st.While.describeOp(&b)
		}
		if st.Op.Fail > 0 {
			fmt.Fprintf(&b, " (transaction %d from now fails)", st.Op.Fail)
		}
		if st.Op.Crash > 0 {
			fmt.Fprintf(&b, " (crash after transaction %d from now)", st.Op.Crash)
		}
	}
	return b.String()
}

// describeOp is a client's or the server actor's op as a person reads it.
func (st *Step) describeOp(b *strings.Builder) {
	fmt.Fprintf(b, "%s: %s", st.Actor, st.Op.Op)
	if st.Op.Table != "" {
		b.WriteString(" " + st.Op.Table)
	}
	if id := st.Op.ID; id != "" {
		b.WriteString(" " + id)
	} else if id, ok := st.Op.Item["id"].(string); ok {
		b.WriteString(" " + id)
	}
	if st.Op.QueryID != "" {
		fmt.Fprintf(b, " (queryId %s)", st.Op.QueryID)
	}
	if st.Op.Force {
		b.WriteString(" (force)")
	}
	if st.Op.How != "" {
		b.WriteString(" " + st.Op.How)
	}
}

// runsUnder reports whether the step runs under strategy.
func (st *Step) runsUnder(strategy string) bool {
	if len(st.When) == 0 {
		return true
	}
	for _, s := range st.When {
		if s == strategy {
			return true
		}
	}
	return false
}
