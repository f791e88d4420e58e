package fakeserver

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Rule is one fault (docs/faults.md): which requests it hits, what happens to them, and the
// parameters of what happens. It is plain data, the same in the Go API, the admin API, fault
// files and scenarios, and it survives a JSON or YAML round trip unchanged.
type Rule struct {
	// ID names the rule; Faults.Add assigns one ("f1", "f2"…) when it is empty.
	ID string `json:"id,omitempty" yaml:"id,omitempty"`
	// Match says which requests the rule hits; the zero Match hits every request.
	Match Match `json:"match,omitzero" yaml:"match,omitempty"`
	// Action is what happens: one of Actions().
	Action string `json:"action" yaml:"action"`
	// Params are the action's parameters, e.g. {"ms": 200} for latency.
	Params map[string]any `json:"params,omitempty" yaml:"params,omitempty"`
}

// Match selects requests. Every field is optional and all those given must hold.
type Match struct {
	// Method is the HTTP methods hit (GET, POST, PATCH, DELETE).
	Method []string `json:"method,omitempty" yaml:"method,omitempty,flow"`
	// Op is the table operations hit: query, lookup, insert, update, delete, undelete.
	Op []string `json:"op,omitempty" yaml:"op,omitempty,flow"`
	// Table and ID are compared without regard to case, as the server compares them.
	Table string `json:"table,omitempty" yaml:"table,omitempty"`
	ID    string `json:"id,omitempty" yaml:"id,omitempty"`
	// Client is the X-ZUMO-INSTALLATION-ID (else the User-Agent) of the requests hit;
	// "server" hits direct writes, which only clock faults touch.
	Client string `json:"client,omitempty" yaml:"client,omitempty"`
	// After skips the first After matching requests.
	After int `json:"after,omitempty" yaml:"after,omitempty"`
	// Times is how many requests the rule fires on after that; 0 is no limit.
	Times int `json:"times,omitempty" yaml:"times,omitempty"`
	// Probability, when set, is the chance that an eligible request is hit, drawn from the
	// server's seeded random source. Unset is 1.
	Probability *float64 `json:"probability,omitempty" yaml:"probability,omitempty"`
}

// Prob returns a Probability for a Match literal.
func Prob(p float64) *float64 { return &p }

// RuleError is a rule that cannot be used: Field is the path of the bad field ("action",
// "match.probability", "params.ms"); Line and Column locate it in a YAML document when known.
type RuleError struct {
	File         string
	Line, Column int
	Field        string
	Message      string
}

func (e *RuleError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File + ":")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d:", e.Line, e.Column)
	}
	if b.Len() > 0 {
		b.WriteString(" ")
	}
	if e.Field != "" {
		b.WriteString(e.Field + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Is makes a RuleError match ErrBadRequest: the admin API answers it with a 400.
func (e *RuleError) Is(target error) bool { return target == ErrBadRequest }

func ruleErr(field, format string, args ...any) *RuleError {
	return &RuleError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// An action is one kind of fault. Each lives in its own file (fault_<name>.go) and is listed
// once, in actions. A rule's parameters are decoded into the action's own struct, so an
// unknown or mistyped parameter is refused when the rule is added, not when it fires.
type action struct {
	name string
	// summary is one line for --help and errors.
	summary string
	// params returns a pointer to a fresh parameter struct holding the defaults.
	params func() any
	// check validates decoded parameters; a RuleError's Field is relative to params.
	check func(p any) *RuleError
	// build makes the behaviour of one rule from its checked parameters.
	build func(p any) behaviour
}

// actions is the table of every fault action, by name.
var actions = map[string]*action{}

func register(a *action) {
	if _, dup := actions[a.name]; dup {
		panic("fakeserver: fault action " + a.name + " registered twice")
	}
	actions[a.name] = a
}

func init() {
	for _, a := range []*action{
		latencyAction, statusAction, resetAction, dropResponseAction, timeoutAction,
		truncateAction, concurrentWriteAction, offlineAction, clockSkewAction,
		clockFreezeAction, pageShiftAction, holdAction,
	} {
		register(a)
	}
}

// Actions lists the fault actions, sorted, each with a one-line summary.
func Actions() [][2]string {
	out := make([][2]string, 0, len(actions))
	for name, a := range actions {
		out = append(out, [2]string{name, a.summary})
	}
	sort.Slice(out, func(i, j int) bool { return out[i][0] < out[j][0] })
	return out
}

func actionNames() string {
	names := make([]string, 0, len(actions))
	for name := range actions {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// A behaviour is what a fired rule does. It implements one or more of the phase interfaces
// of fault_http.go (answerer, preparer, stamper, responder); the middleware asks each fired
// rule for the phases it has.
type behaviour any

var validOps = []string{string(OpQuery), string(OpLookup), string(OpInsert), string(OpUpdate), string(OpDelete), string(OpUndelete)}
var validMethods = []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete}

// Validate checks the rule and returns it in canonical form: methods upper-cased, ops
// lower-cased, params re-encoded from the action's struct. A rule that decodes from JSON or
// YAML is already canonical.
func (r Rule) Validate() (Rule, error) {
	c, _, err := r.compile()
	if err != nil {
		return r, err
	}
	return c, nil
}

// compile validates the rule and builds its behaviour.
func (r Rule) compile() (Rule, behaviour, *RuleError) {
	if r.ID != "" {
		if err := checkFaultID(r.ID); err != nil {
			return r, nil, err
		}
	}
	m := r.Match
	var methods []string
	for i, v := range m.Method {
		u := strings.ToUpper(strings.TrimSpace(v))
		if !slices.Contains(validMethods, u) {
			return r, nil, ruleErr(indexed("match.method", i, len(m.Method)), "unknown method %q: want %s", v, strings.Join(validMethods, ", "))
		}
		methods = append(methods, u)
	}
	var ops []string
	for i, v := range m.Op {
		l := strings.ToLower(strings.TrimSpace(v))
		if !slices.Contains(validOps, l) {
			return r, nil, ruleErr(indexed("match.op", i, len(m.Op)), "unknown op %q: want %s", v, strings.Join(validOps, ", "))
		}
		ops = append(ops, l)
	}
	m.Method, m.Op = methods, ops
	if m.Table != "" && !validTableName(m.Table) {
		return r, nil, ruleErr("match.table", "invalid table name %q: use letters, digits and _, at most 128", m.Table)
	}
	if m.ID != "" {
		if err := checkID(m.ID); err != nil {
			return r, nil, ruleErr("match.id", "%s", err.Message)
		}
	}
	if m.After < 0 {
		return r, nil, ruleErr("match.after", "must not be negative, got %d", m.After)
	}
	if m.Times < 0 {
		return r, nil, ruleErr("match.times", "must not be negative, got %d (0 means no limit)", m.Times)
	}
	if p := m.Probability; p != nil && !(*p >= 0 && *p <= 1) {
		return r, nil, ruleErr("match.probability", "must be between 0 and 1, got %v", *p)
	}
	r.Match = m
	if r.Action == "" {
		return r, nil, ruleErr("action", "missing: want one of %s", actionNames())
	}
	a, ok := actions[r.Action]
	if !ok {
		return r, nil, ruleErr("action", "unknown action %q: want one of %s", r.Action, actionNames())
	}
	p := a.params()
	canon, err := decodeParams(r.Params, p)
	if err != nil {
		return r, nil, err
	}
	if err := a.check(p); err != nil {
		err.Field = "params." + err.Field
		return r, nil, err
	}
	r.Params = canon
	return r, a.build(p), nil
}

func indexed(field string, i, n int) string {
	if n <= 1 {
		return field
	}
	return field + "[" + strconv.Itoa(i) + "]"
}

func checkFaultID(id string) *RuleError {
	if len(id) > 64 {
		return ruleErr("id", "is %d characters long; the limit is 64", len(id))
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return ruleErr("id", "%q: use letters, digits, '-', '_' and '.'", id)
		}
	}
	return nil
}

// Faults holds a server's fault rules. Rules are tried in the order they were added; every
// rule that matches a request fires, except that once one answers the request itself
// (status, reset, timeout…) the later ones do not see it.
type Faults struct {
	mu     sync.Mutex
	rules  []*activeRule
	nextID int
	rng    *rand.ChaCha8
	// refuse, when set, says why an action cannot work here ("" when it can): a proxy
	// cannot move another server's clock.
	refuse func(action string) string
}

// activeRule is a rule in force, with its counters.
type activeRule struct {
	Rule
	behaviour behaviour
	matched   int // requests that matched, including those skipped by After
	fired     int
	// healed closes when the rule is removed, releasing requests it holds.
	healed chan struct{}
}

// RuleStatus is a rule in force with how often it matched and fired.
type RuleStatus struct {
	Rule    Rule `json:"rule"`
	Matched int  `json:"matched"`
	Fired   int  `json:"fired"`
}

func newFaults(seed int64) *Faults {
	f := &Faults{}
	f.reseed(seed)
	return f
}

// reseed restarts the random source: one seed, the same requests and the same rules fire
// the same faults. The source is the server's seed, mixed so that it does not repeat the
// draws of generated ids.
func (f *Faults) reseed(seed int64) {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], uint64(seed))
	copy(s[8:], "conflictlab/faults")
	f.rng = rand.NewChaCha8(s)
}

// Faults returns the server's fault rules.
func (s *Server) Faults() *Faults { return s.faults }

// Add validates a rule and puts it in force. It returns the rule as it is kept: canonical,
// with its ID. A rule with the ID of one in force is refused.
func (f *Faults) Add(r Rule) (Rule, error) {
	c, b, err := r.compile()
	if err != nil {
		return r, err
	}
	if f.refuse != nil {
		if why := f.refuse(c.Action); why != "" {
			return r, ruleErr("action", "%s %s", c.Action, why)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if c.ID == "" {
		for {
			f.nextID++
			c.ID = "f" + strconv.Itoa(f.nextID)
			if f.find(c.ID) < 0 {
				break
			}
		}
	} else if f.find(c.ID) >= 0 {
		return r, ruleErr("id", "a rule with id %q is already in force", c.ID)
	}
	f.rules = append(f.rules, &activeRule{Rule: c, behaviour: b, healed: make(chan struct{})})
	return c, nil
}

// AddAll adds rules in order, all or none: if one is refused, those added before it are
// removed again and the error names the refused rule's place in the list.
func (f *Faults) AddAll(rules []Rule) ([]Rule, error) {
	added := make([]Rule, 0, len(rules))
	for i, r := range rules {
		a, err := f.Add(r)
		if err != nil {
			for _, done := range added {
				f.Remove(done.ID)
			}
			var re *RuleError
			if len(rules) > 1 && errors.As(err, &re) {
				re.Field = strings.TrimSuffix(fmt.Sprintf("[%d].%s", i, re.Field), ".")
			}
			return nil, err
		}
		added = append(added, a)
	}
	return added, nil
}

// Remove heals one rule; it reports whether the rule was in force.
func (f *Faults) Remove(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	i := f.find(id)
	if i < 0 {
		return false
	}
	close(f.rules[i].healed)
	f.rules = slices.Delete(f.rules, i, i+1)
	return true
}

// Reset heals everything: every rule goes, and requests held by a timeout are let go.
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rules {
		close(r.healed)
	}
	f.rules = nil
}

// restart is Reset plus a fresh start of ids and randomness, for Server.Reset.
func (f *Faults) restart(seed int64) {
	f.Reset()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nextID = 0
	f.reseed(seed)
}

// List returns the rules in force, in the order they are tried.
func (f *Faults) List() []Rule {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Rule, len(f.rules))
	for i, r := range f.rules {
		out[i] = r.Rule
	}
	return out
}

// Status returns the rules in force with their counters.
func (f *Faults) Status() []RuleStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]RuleStatus, len(f.rules))
	for i, r := range f.rules {
		out[i] = RuleStatus{Rule: r.Rule, Matched: r.matched, Fired: r.fired}
	}
	return out
}

func (f *Faults) find(id string) int {
	return slices.IndexFunc(f.rules, func(r *activeRule) bool { return r.ID == id })
}

// target is what a rule's Match is compared with.
type target struct {
	method string // "" for a direct write
	op     Op
	table  string
	id     string
	client string
	skip   int // a query's $skip
}

func (m *Match) hits(t target) bool {
	switch {
	case len(m.Method) > 0 && !slices.Contains(m.Method, t.method),
		len(m.Op) > 0 && !slices.Contains(m.Op, string(t.op)),
		m.Table != "" && !strings.EqualFold(m.Table, t.table),
		m.ID != "" && idKey(m.ID) != idKey(t.id),
		m.Client != "" && m.Client != t.client:
		return false
	}
	return true
}

// fired is one rule firing on one request.
type fired struct {
	rule *activeRule
	hit  FaultHit
}

// fire returns the rules that fire on t, in order, counting the request against each rule
// that matches it. keep limits the rules considered (nil: all): a direct write only meets
// clock faults.
func (f *Faults) fire(t target, keep func(behaviour) bool) []fired {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fired
	for _, r := range f.rules {
		if keep != nil && !keep(r.behaviour) || !r.Match.hits(t) {
			continue
		}
		if g, ok := r.behaviour.(gate); ok && !g.accepts(t) {
			continue
		}
		r.matched++
		if r.matched <= r.Match.After || r.Match.Times > 0 && r.fired >= r.Match.Times {
			continue
		}
		if p := r.Match.Probability; p != nil && *p < 1 {
			// 53 random bits make a uniform float in [0, 1), as math/rand's Float64 does.
			if float64(f.rng.Uint64()>>11)/(1<<53) >= *p {
				continue
			}
		}
		r.fired++
		out = append(out, fired{rule: r, hit: FaultHit{ID: r.ID, Action: r.Action}})
		if _, ok := r.behaviour.(answerer); ok {
			break // it answers the request: the rules after it never see it
		}
	}
	return out
}

// active reports whether any rule is in force: without one, requests pass untouched.
func (f *Faults) active() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.rules) > 0
}

// needIDs reports whether a rule in force needs an insert's id, which is in its body.
func (f *Faults) needIDs() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.rules {
		if _, ok := r.behaviour.(needsID); ok || r.Match.ID != "" {
			return true
		}
	}
	return false
}

// needsID marks behaviours that act on the request's item (concurrent-write).
type needsID interface{ needsID() }

// FaultHit names a rule that fired on an event.
type FaultHit struct {
	ID     string `json:"id"`
	Action string `json:"action"`
}

// clockFor fires the clock faults on a direct write: another writer shares the server's
// clock, so a clock fault stamps its writes too. Other faults act on requests only.
func (f *Faults) clockFor(t target) ([]FaultHit, func(time.Time) time.Time) {
	if !f.active() {
		return nil, nil
	}
	fs := f.fire(t, func(b behaviour) bool { _, ok := b.(stamper); return ok })
	if len(fs) == 0 {
		return nil, nil
	}
	hits := make([]FaultHit, len(fs))
	for i, fr := range fs {
		hits[i] = fr.hit
	}
	return hits, func(at time.Time) time.Time {
		for _, fr := range fs {
			at = fr.rule.behaviour.(stamper).stamp(at)
		}
		return at
	}
}

// directTarget is what a direct write looks like to a rule's Match: client "server", no
// method, the operation it stands for.
func directTarget(op Op, tableName, id string, item map[string]any) target {
	t := target{op: op, table: tableName, id: id, client: "server"}
	if op == opWrite {
		t.op = OpUpdate
	}
	if op == OpInsert && id == "" {
		if v, ok := item[colID].(string); ok {
			t.id = v
		}
	}
	return t
}

// intn draws from the faults' random source: 0 <= n' < n.
func (f *Faults) intn(n int) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return int(f.rng.Uint64() % uint64(n))
}
