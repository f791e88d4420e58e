package scenarios

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/internal/yamldoc"
	"github.com/conflictlab/conflictlab/targets"
)

// LoadError is a scenario file that cannot be played: where, and what is wrong. Nothing of a
// file with an error runs. Column is 0 where only the line is known (some YAML syntax errors).
type LoadError struct {
	File         string
	Line, Column int
	Message      string
}

func (e *LoadError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Message)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Message)
	}
	return e.File + ": " + e.Message
}

// Load reads scenario files: each path is a file, or a directory whose *.yaml and *.yml files
// are read in name order. Names must be unique across everything loaded.
func Load(paths ...string) ([]*Scenario, error) {
	var files []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		for _, pat := range []string{"*.yaml", "*.yml"} {
			m, _ := filepath.Glob(filepath.Join(p, pat))
			found = append(found, m...)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no scenario files (*.yaml) in this directory", p)
		}
		sort.Strings(found)
		files = append(files, found...)
	}
	var out []*Scenario
	names := map[string]string{}
	var errs []error
	for _, f := range files {
		sc, err := LoadFile(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := names[sc.Name]; dup {
			errs = append(errs, &LoadError{File: f, Message: fmt.Sprintf("the name %q is already used by %s", sc.Name, prev)})
			continue
		}
		names[sc.Name] = f
		out = append(out, sc)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// LoadFile reads one scenario file.
func LoadFile(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(data, path)
}

// Parse reads a scenario from YAML; file names it in errors. Anchors, aliases and merge keys
// (<<) may be used anywhere: the loader reads the document as a YAML decoder sees it.
func Parse(data []byte, file string) (*Scenario, error) {
	root, err := yamldoc.Parse(data)
	if err != nil {
		var ye *yamldoc.Error
		if errors.As(err, &ye) {
			return nil, &LoadError{File: file, Line: ye.Line, Column: ye.Column, Message: ye.Message}
		}
		return nil, &LoadError{File: file, Message: err.Error()}
	}
	if root == nil {
		return nil, &LoadError{File: file, Message: "the file is empty: a scenario needs at least a name and steps"}
	}
	l := &loader{file: file}
	sc, err := l.scenario(root)
	if err != nil {
		return nil, err
	}
	sc.File = file
	return sc, nil
}

type loader struct{ file string }

func (l *loader) errAt(n *yaml.Node, format string, args ...any) error {
	return &LoadError{File: l.file, Line: n.Line, Column: n.Column, Message: fmt.Sprintf(format, args...)}
}

// field is one key of a mapping.
type field struct {
	key, val *yaml.Node
}

// fields reads a mapping, refusing keys not in known and keys given twice.
func (l *loader) fields(n *yaml.Node, what string, known ...string) (map[string]field, error) {
	if n.Kind != yaml.MappingNode {
		return nil, l.errAt(n, "%s must be a mapping (key: value)", what)
	}
	out := map[string]field{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !slices.Contains(known, k.Value) {
			return nil, l.errAt(k, "unknown key %q in %s (known: %s)", k.Value, what, strings.Join(known, ", "))
		}
		if _, dup := out[k.Value]; dup {
			return nil, l.errAt(k, "%q is given twice in %s", k.Value, what)
		}
		out[k.Value] = field{k, v}
	}
	return out, nil
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.Tag == "!!null" }

func (l *loader) str(f field) (string, error) {
	if f.val.Kind != yaml.ScalarNode || f.val.Tag != "!!str" {
		return "", l.errAt(f.val, "%s must be a string", f.key.Value)
	}
	return f.val.Value, nil
}

func (l *loader) integer(f field, min int) (int, error) {
	var v int
	if f.val.Kind != yaml.ScalarNode || f.val.Tag != "!!int" || f.val.Decode(&v) != nil {
		return 0, l.errAt(f.val, "%s must be a whole number", f.key.Value)
	}
	if v < min {
		return 0, l.errAt(f.val, "%s must be at least %d, got %d", f.key.Value, min, v)
	}
	return v, nil
}

func (l *loader) boolean(f field) (bool, error) {
	var v bool
	if f.val.Kind != yaml.ScalarNode || f.val.Tag != "!!bool" || f.val.Decode(&v) != nil {
		return false, l.errAt(f.val, "%s must be true or false", f.key.Value)
	}
	return v, nil
}

// words reads a string or a list of strings.
func (l *loader) words(f field) ([]string, error) {
	if f.val.Kind == yaml.ScalarNode && f.val.Tag == "!!str" {
		return []string{f.val.Value}, nil
	}
	if f.val.Kind != yaml.SequenceNode {
		return nil, l.errAt(f.val, "%s must be a string or a list of strings", f.key.Value)
	}
	var out []string
	for _, item := range f.val.Content {
		if item.Kind != yaml.ScalarNode || item.Tag != "!!str" {
			return nil, l.errAt(item, "%s must list strings", f.key.Value)
		}
		out = append(out, item.Value)
	}
	return out, nil
}

// wordAt is the node of the i-th word words read from n: n itself when it is one word.
func wordAt(n *yaml.Node, i int) *yaml.Node {
	if n.Kind == yaml.SequenceNode && i < len(n.Content) {
		return n.Content[i]
	}
	return n
}

func (l *loader) oneOf(f field, allowed []string) (string, error) {
	s, err := l.str(f)
	if err != nil {
		return "", err
	}
	if !slices.Contains(allowed, s) {
		return "", l.errAt(f.val, "unknown %s %q: want one of %s", f.key.Value, s, strings.Join(allowed, ", "))
	}
	return s, nil
}

// item reads a row or a patch: a mapping of scalars, numbers as float64 as JSON has them.
func (l *loader) item(f field) (map[string]any, error) {
	if f.val.Kind != yaml.MappingNode {
		return nil, l.errAt(f.val, "%s must be a mapping of fields", f.key.Value)
	}
	var raw map[string]any
	if err := f.val.Decode(&raw); err != nil {
		return nil, l.errAt(f.val, "%s: %v", f.key.Value, err)
	}
	out := make(map[string]any, len(raw))
	for i := 0; i+1 < len(f.val.Content); i += 2 {
		k, v := f.val.Content[i], f.val.Content[i+1]
		val, ok := scalar(raw[k.Value])
		if !ok {
			return nil, l.errAt(v, "field %q must be a string, number, boolean or null", k.Value)
		}
		out[k.Value] = val
	}
	return out, nil
}

// scalar normalises a decoded YAML scalar as encoding/json would have it.
func scalar(v any) (any, bool) {
	switch n := v.(type) {
	case nil, string, bool, float64:
		return v, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return nil, false
}

var kebab = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

var reservedActors = []string{"server", "fault", "heal", "converge", "check", "clock", "when", "expect"}

func (l *loader) scenario(n *yaml.Node) (*Scenario, error) {
	fs, err := l.fields(n, "a scenario", "name", "description", "labels", "strategies", "requires", "server", "clients", "steps")
	if err != nil {
		return nil, err
	}
	sc := &Scenario{Server: ServerSpec{Dialect: fakeserver.V2, SoftDelete: true, ClockStepMs: 1}}
	f, ok := fs["name"]
	if !ok {
		return nil, l.errAt(n, "a scenario needs a name")
	}
	if sc.Name, err = l.str(f); err != nil {
		return nil, err
	}
	if !kebab.MatchString(sc.Name) {
		return nil, l.errAt(f.val, "name %q must be kebab-case (lower-case words joined by -)", sc.Name)
	}
	if f, ok := fs["description"]; ok {
		if sc.Description, err = l.str(f); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["labels"]; ok {
		if sc.Labels, err = l.words(f); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["strategies"]; ok {
		if sc.Strategies, err = l.words(f); err != nil {
			return nil, err
		}
		for i, s := range sc.Strategies {
			if !slices.Contains(Strategies, s) {
				return nil, l.errAt(wordAt(f.val, i), "unknown strategy %q: want %s", s, strings.Join(Strategies, ", "))
			}
		}
	}
	if f, ok := fs["requires"]; ok {
		if sc.Requires, err = l.words(f); err != nil {
			return nil, err
		}
		for i, s := range sc.Requires {
			if !slices.Contains(targets.Declarable, s) {
				return nil, l.errAt(wordAt(f.val, i), "unknown requirement %q: want %s", s, strings.Join(targets.Declarable, ", "))
			}
		}
	}
	if f, ok := fs["server"]; ok {
		if err := l.server(f.val, &sc.Server); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["clients"]; ok {
		if sc.Clients, err = l.clients(f.val); err != nil {
			return nil, err
		}
	}
	f, ok = fs["steps"]
	if !ok || f.val.Kind != yaml.SequenceNode || len(f.val.Content) == 0 {
		at := n
		if ok {
			at = f.val
		}
		return nil, l.errAt(at, "a scenario needs steps: a list of at least one step")
	}
	for i, sn := range f.val.Content {
		st, err := l.step(sn, sc)
		if err != nil {
			return nil, err
		}
		st.Index = i + 1
		if st.While != nil {
			st.While.Index = st.Index
		}
		sc.Steps = append(sc.Steps, st)
	}
	return sc, nil
}

func (l *loader) server(n *yaml.Node, s *ServerSpec) error {
	fs, err := l.fields(n, "server", "dialect", "pageSize", "maxTop", "softDelete", "clockStepMs", "seed", "tables")
	if err != nil {
		return err
	}
	if f, ok := fs["dialect"]; ok {
		d, err := l.oneOf(f, []string{"v2", "v1"})
		if err != nil {
			return err
		}
		s.Dialect = fakeserver.Dialect(d)
	}
	for key, dst := range map[string]*int{"pageSize": &s.PageSize, "maxTop": &s.MaxTop} {
		if f, ok := fs[key]; ok {
			if *dst, err = l.integer(f, 1); err != nil {
				return err
			}
		}
	}
	if f, ok := fs["clockStepMs"]; ok {
		if s.ClockStepMs, err = l.integer(f, 0); err != nil {
			return err
		}
	}
	if f, ok := fs["softDelete"]; ok {
		if s.SoftDelete, err = l.boolean(f); err != nil {
			return err
		}
	}
	if f, ok := fs["seed"]; ok {
		seed, err := l.integer(f, math.MinInt)
		if err != nil {
			return err
		}
		s.Seed = int64(seed)
	}
	if f, ok := fs["tables"]; ok {
		if f.val.Kind != yaml.MappingNode {
			return l.errAt(f.val, "tables must map each table to a list of rows")
		}
		for i := 0; i+1 < len(f.val.Content); i += 2 {
			k, v := f.val.Content[i], f.val.Content[i+1]
			if v.Kind != yaml.SequenceNode {
				return l.errAt(v, "table %s: want a list of rows", k.Value)
			}
			tr := TableRows{Table: k.Value}
			for _, rn := range v.Content {
				row, err := l.item(field{k, rn})
				if err != nil {
					return err
				}
				if _, ok := row["id"].(string); !ok {
					return l.errAt(rn, "a row of table %s needs a string id", k.Value)
				}
				tr.Rows = append(tr.Rows, row)
			}
			s.Tables = append(s.Tables, tr)
		}
	}
	return nil
}

func (l *loader) clients(n *yaml.Node) ([]*ClientSpec, error) {
	if n.Kind != yaml.MappingNode {
		return nil, l.errAt(n, "clients must map each client's name to its settings")
	}
	var out []*ClientSpec
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if slices.Contains(reservedActors, k.Value) || !regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`).MatchString(k.Value) {
			return nil, l.errAt(k, "%q cannot name a client: use letters, digits, - and _, and none of %s", k.Value, strings.Join(reservedActors, ", "))
		}
		for _, c := range out {
			if c.Name == k.Value {
				return nil, l.errAt(k, "client %q is named twice", k.Value)
			}
		}
		c := &ClientSpec{Name: k.Value, Store: "memory"}
		if !isNull(v) {
			fs, err := l.fields(v, "client "+k.Value, "strategy", "store", "client", "options")
			if err != nil {
				return nil, err
			}
			if f, ok := fs["strategy"]; ok {
				if c.Strategy, err = l.oneOf(f, Strategies); err != nil {
					return nil, err
				}
			}
			if f, ok := fs["store"]; ok {
				if c.Store, err = l.oneOf(f, []string{"memory", "sqlite"}); err != nil {
					return nil, err
				}
			}
			if f, ok := fs["client"]; ok {
				if c.Client, err = l.str(f); err != nil {
					return nil, err
				}
				if strings.TrimSpace(c.Client) == "" {
					return nil, l.errAt(f.val, "client must name a client: go, js or a driver's command")
				}
			}
			if f, ok := fs["options"]; ok {
				if err := l.options(f.val, &c.Options); err != nil {
					return nil, err
				}
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func (l *loader) options(n *yaml.Node, o *ClientOptions) error {
	fs, err := l.fields(n, "options", "pushScope", "collapseUpdateDeleteToTail", "purgePushesFirst",
		"treatIdenticalAsSuccess", "skippedRowsMoveToken", "pageSize", "maxTries", "timeoutMs")
	if err != nil {
		return err
	}
	if f, ok := fs["pushScope"]; ok {
		if o.PushScope, err = l.oneOf(f, []string{"context", "table"}); err != nil {
			return err
		}
	}
	for key, dst := range map[string]*bool{"collapseUpdateDeleteToTail": &o.CollapseUpdateDeleteToTail,
		"purgePushesFirst": &o.PurgePushesFirst, "treatIdenticalAsSuccess": &o.TreatIdenticalAsSuccess,
		"skippedRowsMoveToken": &o.SkippedRowsMoveToken} {
		if f, ok := fs[key]; ok {
			if *dst, err = l.boolean(f); err != nil {
				return err
			}
		}
	}
	for key, dst := range map[string]*int{"pageSize": &o.PageSize, "maxTries": &o.MaxTries, "timeoutMs": &o.TimeoutMs} {
		if f, ok := fs[key]; ok {
			if *dst, err = l.integer(f, 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// clientOps lists each client op with the keys it takes; required ones are marked with !.
var clientOps = map[string][]string{
	"insert":  {"table!", "item!"},
	"update":  {"table!", "item!"},
	"delete":  {"table!", "item", "id"},
	"lookup":  {"table!", "id!"},
	"read":    {"table!", "query"},
	"query":   {"table!", "query"},
	"push":    {"table"},
	"pull":    {"table!", "query", "queryId"},
	"purge":   {"table!", "query", "queryId", "force"},
	"restart": {},
	"resolve": {"table!", "id!", "how!", "item"},
	// store-fault: fail (the n-th store transaction from now fails once) or crash (the device
	// dies right after the n-th commits, until a restart; sqlite only).
	"store-fault": {"fail", "crash"},
}

var serverOps = map[string][]string{
	"insert":   {"table!", "item!"},
	"update":   {"table!", "item!"},
	"delete":   {"table!", "item", "id"},
	"undelete": {"table!", "item", "id"},
}

func sortedOps(m map[string][]string) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func (l *loader) step(n *yaml.Node, sc *Scenario) (*Step, error) {
	if n.Kind != yaml.MappingNode {
		return nil, l.errAt(n, "a step must be a mapping: one actor key, and optionally expect and when")
	}
	st := &Step{Line: n.Line}
	var actor field
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if slices.Contains(stepKeys, k.Value) {
			continue
		}
		if actor.key != nil {
			return nil, l.errAt(k, "a step has one actor; %q and %q are both here (write two steps)", actor.key.Value, k.Value)
		}
		actor = field{k, n.Content[i+1]}
	}
	if actor.key == nil {
		return nil, l.errAt(n, "a step needs an actor: a client's name, server, fault, heal, converge, check or clock")
	}
	fs, err := l.fields(n, "a step", append([]string{actor.key.Value}, stepKeys...)...)
	if err != nil {
		return nil, err
	}
	st.Actor = actor.key.Value
	switch st.Actor {
	case "server":
		st.Op, err = l.op(actor, serverOps, "the server actor")
	case "fault":
		var r fakeserver.Rule
		if err := actor.val.Decode(&r); err != nil {
			var re *fakeserver.RuleError
			if errors.As(err, &re) {
				msg := re.Message
				if re.Field != "" {
					msg = "fault " + re.Field + ": " + msg
				}
				return nil, &LoadError{File: l.file, Line: re.Line, Column: re.Column, Message: msg}
			}
			return nil, l.errAt(actor.val, "fault: %v", err)
		}
		st.Fault = &r
	case "heal":
		st.Heal, err = l.str(actor)
	case "converge":
		st.Converge = &Converge{Rounds: 10}
		if !isNull(actor.val) {
			var cf map[string]field
			if cf, err = l.fields(actor.val, "converge", "rounds"); err == nil {
				if f, ok := cf["rounds"]; ok {
					st.Converge.Rounds, err = l.integer(f, 1)
				}
			}
		}
	case "clock":
		var cf map[string]field
		if cf, err = l.fields(actor.val, "clock", "advanceMs"); err == nil {
			f, ok := cf["advanceMs"]
			if !ok {
				return nil, l.errAt(actor.val, "clock needs advanceMs")
			}
			st.ClockMs, err = l.integer(f, 0)
		}
	case "check":
		st.Check, err = l.check(actor.val, sc)
	default:
		if sc.Client(st.Actor) == nil {
			return nil, l.errAt(actor.key, "%q is not a client of this scenario, nor an actor (server, fault, heal, converge, check, clock)", st.Actor)
		}
		st.Op, err = l.op(actor, clientOps, "client "+st.Actor)
		if err == nil && st.Op.Op == "store-fault" {
			err = l.storeFault(actor, st.Op, sc.Client(st.Actor))
		}
	}
	if err != nil {
		return nil, err
	}
	if f, ok := fs["when"]; ok {
		if st.When, err = l.when(f.val, sc); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["while"]; ok {
		if st.Op == nil || st.Actor == "server" || st.Op.Op != "pull" {
			return nil, l.errAt(f.key, "while goes with a client's pull only: the pull waits at a page while the other op runs")
		}
		if st.While, err = l.while(f.val, sc, st); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["atPage"]; ok {
		if st.While == nil {
			return nil, l.errAt(f.key, "atPage goes with while: it names the page the pull waits for while the other op runs")
		}
		if st.AtPage, err = l.integer(f, 1); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["expect"]; ok {
		if st.Expect, err = l.expect(f.val, st); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// stepKeys are the keys a step has besides its actor.
var stepKeys = []string{"expect", "when", "while", "atPage"}

// localOps are the ops that send nothing: the only ones a device can play while its own
// pull waits.
var localOps = []string{"insert", "update", "delete", "lookup", "read", "query"}

// while reads the other op of a pull's step: one actor (a client, or the server actor) and
// optionally its expect, played while the pull waits for a page.
func (l *loader) while(n *yaml.Node, sc *Scenario, pull *Step) (*Step, error) {
	if n.Kind != yaml.MappingNode {
		return nil, l.errAt(n, "while must be a mapping: one actor (a client's name or server) and optionally expect")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		switch k := n.Content[i]; k.Value {
		case "when", "while", "atPage":
			return nil, l.errAt(k, "%s cannot go inside while: it belongs to the pull's step", k.Value)
		case "fault", "heal", "converge", "check", "clock":
			return nil, l.errAt(k, "while plays a client's op or the server actor's write, not %s", k.Value)
		}
	}
	st, err := l.step(n, sc)
	if err != nil {
		return nil, err
	}
	if st.Actor == pull.Actor && !slices.Contains(localOps, st.Op.Op) {
		return nil, l.errAt(n, "while: %s's own pull is under way, so meanwhile it can only write or read locally (%s), not %s",
			st.Actor, strings.Join(localOps, ", "), st.Op.Op)
	}
	return st, nil
}

func (l *loader) op(actor field, ops map[string][]string, who string) (*Op, error) {
	if actor.val.Kind != yaml.MappingNode {
		return nil, l.errAt(actor.val, "%s: want {op: …, table: …}", who)
	}
	opNode := actor.val
	for i := 0; i+1 < len(actor.val.Content); i += 2 {
		if actor.val.Content[i].Value == "op" {
			opNode = actor.val.Content[i+1]
		}
	}
	if opNode == actor.val {
		return nil, l.errAt(actor.val, "%s: missing op (one of %s)", who, sortedOps(ops))
	}
	keys, ok := ops[opNode.Value]
	if !ok {
		return nil, l.errAt(opNode, "%s: unknown op %q: want one of %s", who, opNode.Value, sortedOps(ops))
	}
	known := []string{"op"}
	for _, k := range keys {
		known = append(known, strings.TrimSuffix(k, "!"))
	}
	fs, err := l.fields(actor.val, fmt.Sprintf("%s's %s (it takes %s)", who, opNode.Value, strings.Join(known[1:], ", ")), known...)
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		if name, required := strings.CutSuffix(k, "!"); required {
			if _, ok := fs[name]; !ok {
				return nil, l.errAt(actor.val, "%s: %s needs %s", who, opNode.Value, name)
			}
		}
	}
	op := &Op{Op: opNode.Value}
	if f, ok := fs["table"]; ok {
		if op.Table, err = l.str(f); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["id"]; ok {
		if op.ID, err = l.str(f); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["item"]; ok {
		if op.Item, err = l.item(f); err != nil {
			return nil, err
		}
		if op.Op != "resolve" {
			if _, ok := op.Item["id"].(string); !ok {
				return nil, l.errAt(f.val, "%s: the item needs a string id", who)
			}
		}
	}
	if (op.Op == "delete" || op.Op == "undelete") && op.ID == "" && op.Item == nil {
		return nil, l.errAt(actor.val, "%s: %s needs an item or an id", who, op.Op)
	}
	if f, ok := fs["queryId"]; ok {
		if op.QueryID, err = l.str(f); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["force"]; ok {
		if op.Force, err = l.boolean(f); err != nil {
			return nil, err
		}
	}
	for key, dst := range map[string]*int{"fail": &op.Fail, "crash": &op.Crash} {
		if f, ok := fs[key]; ok {
			if *dst, err = l.integer(f, 1); err != nil {
				return nil, err
			}
		}
	}
	if f, ok := fs["how"]; ok {
		if op.How, err = l.oneOf(f, []string{"cancel-and-update", "cancel-and-discard", "update-operation"}); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["query"]; ok {
		qf, err := l.fields(f.val, "query", "filter", "orderby", "top", "skip")
		if err != nil {
			return nil, err
		}
		op.Query = &Query{}
		if f, ok := qf["filter"]; ok {
			if op.Query.Filter, err = l.str(f); err != nil {
				return nil, err
			}
		}
		if f, ok := qf["orderby"]; ok {
			if op.Query.OrderBy, err = l.str(f); err != nil {
				return nil, err
			}
		}
		for key, dst := range map[string]**int{"top": &op.Query.Top, "skip": &op.Query.Skip} {
			if f, ok := qf[key]; ok {
				v, err := l.integer(f, 0)
				if err != nil {
					return nil, err
				}
				*dst = &v
			}
		}
		if err := op.Query.Validate(); err != nil {
			return nil, l.errAt(f.val, "query: %v", err)
		}
	}
	return op, nil
}

// storeFault checks a store-fault: fail or crash, not both; a crash needs a store the device's
// restart reopens.
func (l *loader) storeFault(actor field, op *Op, c *ClientSpec) error {
	switch {
	case op.Fail == 0 && op.Crash == 0:
		return l.errAt(actor.val, "client %s: store-fault needs fail: N (the N-th store transaction from now fails) or crash: N (the device dies right after the N-th commits)", c.Name)
	case op.Fail > 0 && op.Crash > 0:
		return l.errAt(actor.val, "client %s: store-fault takes fail or crash, not both (write two steps)", c.Name)
	case op.Crash > 0 && c.Store != "sqlite":
		return l.errAt(actor.val, "client %s: store-fault crash needs store: sqlite (a %s store does not outlive the crash)", c.Name, c.Store)
	}
	return nil
}

func (l *loader) when(n *yaml.Node, sc *Scenario) ([]string, error) {
	fs, err := l.fields(n, "when", "strategy")
	if err != nil {
		return nil, err
	}
	f, ok := fs["strategy"]
	if !ok {
		return nil, l.errAt(n, "when needs strategy")
	}
	list, err := l.words(f)
	if err != nil {
		return nil, err
	}
	if len(sc.Strategies) == 0 {
		return nil, l.errAt(f.val, "when: the scenario lists no strategies, so this step would never run; add strategies at the top")
	}
	for _, s := range list {
		if !slices.Contains(sc.Strategies, s) {
			return nil, l.errAt(f.val, "when: %q is not one of the scenario's strategies (%s), so this step would never run under it", s, strings.Join(sc.Strategies, ", "))
		}
	}
	return list, nil
}

// ErrorKinds are the kinds an expect's error can name.
// The most specific come first: ExpectOutcome names the first that matches.
var ErrorKinds = []string{"push-cancelled", "push-failed", "network", "auth", "purge-pending-changes", "invalid-operation",
	"invalid-query", "not-found", "conflict", "bad-response", "http", "store", "any"}

// PushStatuses are the statuses an expect's status can name.
var PushStatuses = []string{"complete", "cancelled-by-network-error", "cancelled-by-authentication-error", "cancelled-by-operation", "cancelled-by-context", "cancelled-by-store-error", "cancelled-by-error"}

func (l *loader) expect(n *yaml.Node, st *Step) (*Expect, error) {
	fs, err := l.fields(n, "expect", "error", "status", "errors", "item", "rows", "requests")
	if err != nil {
		return nil, err
	}
	ex := &Expect{}
	op := ""
	if st.Op != nil {
		op = st.Op.Op
		if st.Actor == "server" {
			op = "server " + op
		}
	}
	only := func(key string, ops ...string) error {
		if f, ok := fs[key]; ok && !slices.Contains(ops, op) {
			return l.errAt(f.key, "expect %s applies to a client's %s only", key, strings.Join(ops, " or "))
		}
		return nil
	}
	for key, ops := range map[string][]string{"status": {"push", "pull", "purge"}, "errors": {"push", "pull", "purge"},
		"item": {"lookup"}, "rows": {"read", "query"}, "error": {"insert", "update", "delete", "lookup", "read", "query", "push", "pull", "purge", "restart", "resolve",
			"server insert", "server update", "server delete", "server undelete"}} {
		if err := only(key, ops...); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["error"]; ok {
		if ex.Error, err = l.oneOf(f, ErrorKinds); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["status"]; ok {
		if ex.Status, err = l.oneOf(f, PushStatuses); err != nil {
			return nil, err
		}
	}
	if f, ok := fs["errors"]; ok {
		ex.HasErrors = true
		if f.val.Kind != yaml.SequenceNode {
			return nil, l.errAt(f.val, "errors must be a list of {table, id, status}")
		}
		for _, en := range f.val.Content {
			ef, err := l.fields(en, "an expected error", "table", "id", "status")
			if err != nil {
				return nil, err
			}
			var e ErrorSpec
			for _, k := range []string{"table", "id", "status"} {
				if _, ok := ef[k]; !ok {
					return nil, l.errAt(en, "an expected error needs table, id and status")
				}
			}
			if e.Table, err = l.str(ef["table"]); err != nil {
				return nil, err
			}
			if e.ID, err = l.str(ef["id"]); err != nil {
				return nil, err
			}
			if e.Status, err = l.integer(ef["status"], 0); err != nil {
				return nil, err
			}
			ex.Errors = append(ex.Errors, e)
		}
	}
	if f, ok := fs["item"]; ok {
		ex.HasItem = true
		if !isNull(f.val) {
			if ex.Item, err = l.item(f); err != nil {
				return nil, err
			}
		}
	}
	if f, ok := fs["rows"]; ok {
		ex.HasRows = true
		if f.val.Kind != yaml.SequenceNode {
			return nil, l.errAt(f.val, "rows must be a list of ids")
		}
		for _, r := range f.val.Content {
			if r.Kind != yaml.ScalarNode || r.Tag != "!!str" {
				return nil, l.errAt(r, "rows must list ids (strings)")
			}
			ex.Rows = append(ex.Rows, r.Value)
		}
	}
	if f, ok := fs["requests"]; ok {
		ex.HasRequests = true
		if f.val.Kind != yaml.SequenceNode {
			return nil, l.errAt(f.val, "requests must be a list of \"METHOD /path\" (or ...)")
		}
		for _, r := range f.val.Content {
			if r.Kind != yaml.ScalarNode || r.Tag != "!!str" {
				return nil, l.errAt(r, "requests must list strings")
			}
			if r.Value != "..." {
				method, path, ok := strings.Cut(r.Value, " ")
				if !ok || !slices.Contains([]string{"GET", "POST", "PATCH", "DELETE"}, method) || !strings.HasPrefix(path, "/") || strings.Contains(path, "?") {
					return nil, l.errAt(r, "request %q: want METHOD /path without a query string, or ...", r.Value)
				}
			}
			ex.Requests = append(ex.Requests, r.Value)
		}
	}
	return ex, nil
}

// Properties the runner checks, by id.
var RunnerProperties = []string{"P1", "P2", "P4", "P5", "P7", "P10", "P11"}

func (l *loader) check(n *yaml.Node, sc *Scenario) (*Check, error) {
	if n.Kind != yaml.MappingNode {
		return nil, l.errAt(n, "check must be a mapping: server, a client's name, converged, properties")
	}
	c := &Check{Clients: map[string]*ClientCheck{}}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if seen[k.Value] {
			return nil, l.errAt(k, "%q is given twice in check", k.Value)
		}
		seen[k.Value] = true
		switch {
		case k.Value == "server":
			tables, err := l.tables(v, "server")
			if err != nil {
				return nil, err
			}
			c.Server = tables
		case k.Value == "converged":
			b, err := l.boolean(field{k, v})
			if err != nil {
				return nil, err
			}
			c.Converged = b
		case k.Value == "properties":
			list, err := l.words(field{k, v})
			if err != nil {
				return nil, err
			}
			for _, p := range list {
				if !slices.Contains(RunnerProperties, p) {
					return nil, l.errAt(v, "property %q: a scenario checks %s (P3, P6, P8 and P9 are the property tests' own)", p, strings.Join(RunnerProperties, ", "))
				}
			}
			c.Properties = list
		case sc.Client(k.Value) != nil:
			cc := &ClientCheck{}
			if v.Kind != yaml.MappingNode {
				return nil, l.errAt(v, "check %s: want {pending: N, errors: N, <table>: {id: fields}}", k.Value)
			}
			tables := &yaml.Node{Kind: yaml.MappingNode}
			for j := 0; j+1 < len(v.Content); j += 2 {
				ck, cv := v.Content[j], v.Content[j+1]
				switch ck.Value {
				case "pending", "errors":
					n, err := l.integer(field{ck, cv}, 0)
					if err != nil {
						return nil, err
					}
					if ck.Value == "pending" {
						cc.Pending = &n
					} else {
						cc.Errors = &n
					}
				default:
					tables.Content = append(tables.Content, ck, cv)
				}
			}
			var err error
			if cc.Tables, err = l.tables(tables, k.Value); err != nil {
				return nil, err
			}
			c.Clients[k.Value] = cc
		default:
			return nil, l.errAt(k, "check: %q is neither server, converged, properties nor a client of this scenario", k.Value)
		}
	}
	return c, nil
}

// tables reads {table: {id: fields | null}}.
func (l *loader) tables(n *yaml.Node, who string) (map[string]map[string]map[string]any, error) {
	if n.Kind != yaml.MappingNode {
		return nil, l.errAt(n, "check %s: want {table: {id: fields or null}}", who)
	}
	out := map[string]map[string]map[string]any{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		tk, tv := n.Content[i], n.Content[i+1]
		if tv.Kind != yaml.MappingNode {
			return nil, l.errAt(tv, "check %s, table %s: want {id: fields or null}", who, tk.Value)
		}
		rows := map[string]map[string]any{}
		for j := 0; j+1 < len(tv.Content); j += 2 {
			ik, iv := tv.Content[j], tv.Content[j+1]
			if isNull(iv) {
				rows[ik.Value] = nil
				continue
			}
			item, err := l.item(field{ik, iv})
			if err != nil {
				return nil, err
			}
			rows[ik.Value] = item
		}
		out[tk.Value] = rows
	}
	return out, nil
}
