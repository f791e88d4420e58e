package scenarios

import (
	"fmt"
	"sort"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Marshal writes a scenario as a YAML file Parse reads back to the same scenario: how the
// property tests write down a counterexample. Steps come out one per line, in flow style.
func Marshal(sc *Scenario) ([]byte, error) {
	doc := mapping()
	add(doc, "name", str(sc.Name))
	if sc.Description != "" {
		add(doc, "description", str(sc.Description))
	}
	if len(sc.Labels) > 0 {
		add(doc, "labels", flowList(sc.Labels))
	}
	if len(sc.Strategies) > 0 {
		add(doc, "strategies", flowList(sc.Strategies))
	}
	if len(sc.Requires) > 0 {
		add(doc, "requires", flowList(sc.Requires))
	}
	add(doc, "server", serverNode(sc.Server))
	if len(sc.Clients) > 0 {
		clients := mapping()
		for _, c := range sc.Clients {
			n := flow(mapping())
			if c.Strategy != "" {
				add(n, "strategy", str(c.Strategy))
			}
			add(n, "store", str(c.Store))
			if c.Client != "" {
				add(n, "client", str(c.Client))
			}
			if opts := optionsNode(c.Options); len(opts.Content) > 0 {
				add(n, "options", opts)
			}
			add(clients, c.Name, n)
		}
		add(doc, "clients", clients)
	}
	steps := &yaml.Node{Kind: yaml.SequenceNode}
	for _, st := range sc.Steps {
		n, err := stepNode(st)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", st.Index, err)
		}
		steps.Content = append(steps.Content, n)
	}
	add(doc, "steps", steps)
	return yaml.Marshal(doc)
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func flow(n *yaml.Node) *yaml.Node { n.Style = yaml.FlowStyle; return n }

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func num(n int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(n)}
}

func boolean(b bool) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(b)}
}

func add(m *yaml.Node, key string, val *yaml.Node) {
	m.Content = append(m.Content, str(key), val)
}

func flowList(items []string) *yaml.Node {
	n := flow(&yaml.Node{Kind: yaml.SequenceNode})
	for _, s := range items {
		n.Content = append(n.Content, str(s))
	}
	return n
}

// value renders a field value of an item.
func value(v any) (*yaml.Node, error) {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		return nil, err
	}
	return &n, nil
}

func itemNode(item map[string]any) (*yaml.Node, error) {
	n := flow(mapping())
	keys := make([]string, 0, len(item))
	for k := range item {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i] != "id" && keys[j] != "id" && keys[i] < keys[j] || keys[i] == "id" && keys[j] != "id"
	})
	for _, k := range keys {
		v, err := value(item[k])
		if err != nil {
			return nil, err
		}
		add(n, k, v)
	}
	return n, nil
}

func serverNode(s ServerSpec) *yaml.Node {
	n := mapping()
	add(n, "dialect", str(string(s.Dialect)))
	if s.PageSize > 0 {
		add(n, "pageSize", num(s.PageSize))
	}
	if s.MaxTop > 0 {
		add(n, "maxTop", num(s.MaxTop))
	}
	if !s.SoftDelete {
		add(n, "softDelete", boolean(false))
	}
	add(n, "clockStepMs", num(s.ClockStepMs))
	if s.Seed != 0 {
		add(n, "seed", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(s.Seed, 10)})
	}
	if len(s.Tables) > 0 {
		tables := mapping()
		for _, t := range s.Tables {
			rows := &yaml.Node{Kind: yaml.SequenceNode}
			for _, r := range t.Rows {
				rn, _ := itemNode(r)
				rows.Content = append(rows.Content, rn)
			}
			add(tables, t.Table, rows)
		}
		add(n, "tables", tables)
	}
	return n
}

func optionsNode(o ClientOptions) *yaml.Node {
	n := flow(mapping())
	if o.PushScope != "" {
		add(n, "pushScope", str(o.PushScope))
	}
	for _, b := range []struct {
		key string
		on  bool
	}{{"collapseUpdateDeleteToTail", o.CollapseUpdateDeleteToTail}, {"purgePushesFirst", o.PurgePushesFirst},
		{"treatIdenticalAsSuccess", o.TreatIdenticalAsSuccess}, {"skippedRowsMoveToken", o.SkippedRowsMoveToken}} {
		if b.on {
			add(n, b.key, boolean(true))
		}
	}
	for _, i := range []struct {
		key string
		n   int
	}{{"pageSize", o.PageSize}, {"maxTries", o.MaxTries}, {"timeoutMs", o.TimeoutMs}} {
		if i.n > 0 {
			add(n, i.key, num(i.n))
		}
	}
	return n
}

func stepNode(st *Step) (*yaml.Node, error) {
	n := flow(mapping())
	switch st.Actor {
	case "fault":
		var r yaml.Node
		if err := r.Encode(st.Fault); err != nil {
			return nil, err
		}
		setFlow(&r)
		add(n, "fault", &r)
	case "heal":
		add(n, "heal", str(st.Heal))
	case "converge":
		c := flow(mapping())
		if st.Converge.Rounds != 10 {
			add(c, "rounds", num(st.Converge.Rounds))
		}
		add(n, "converge", c)
	case "clock":
		c := flow(mapping())
		add(c, "advanceMs", num(st.ClockMs))
		add(n, "clock", c)
	case "check":
		c, err := checkNode(st.Check)
		if err != nil {
			return nil, err
		}
		add(n, "check", c)
	default:
		o, err := opNode(st.Op)
		if err != nil {
			return nil, err
		}
		add(n, st.Actor, o)
	}
	if st.While != nil {
		w, err := stepNode(st.While)
		if err != nil {
			return nil, err
		}
		add(n, "while", w)
		if st.AtPage > 0 {
			add(n, "atPage", num(st.AtPage))
		}
	}
	if len(st.When) > 0 {
		w := flow(mapping())
		add(w, "strategy", flowList(st.When))
		add(n, "when", w)
	}
	if st.Expect != nil {
		e, err := expectNode(st.Expect)
		if err != nil {
			return nil, err
		}
		if len(e.Content) > 0 {
			add(n, "expect", e)
		}
	}
	return n, nil
}

func setFlow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	for _, c := range n.Content {
		setFlow(c)
	}
}

func opNode(op *Op) (*yaml.Node, error) {
	n := flow(mapping())
	add(n, "op", str(op.Op))
	if op.Table != "" {
		add(n, "table", str(op.Table))
	}
	if op.Item != nil {
		item, err := itemNode(op.Item)
		if err != nil {
			return nil, err
		}
		add(n, "item", item)
	}
	if op.ID != "" {
		add(n, "id", str(op.ID))
	}
	if q := op.Query; q != nil {
		qn := flow(mapping())
		if q.Filter != "" {
			add(qn, "filter", str(q.Filter))
		}
		if q.OrderBy != "" {
			add(qn, "orderby", str(q.OrderBy))
		}
		if q.Top != nil {
			add(qn, "top", num(*q.Top))
		}
		if q.Skip != nil {
			add(qn, "skip", num(*q.Skip))
		}
		add(n, "query", qn)
	}
	if op.QueryID != "" {
		add(n, "queryId", str(op.QueryID))
	}
	if op.Force {
		add(n, "force", boolean(true))
	}
	if op.How != "" {
		add(n, "how", str(op.How))
	}
	if op.Fail > 0 {
		add(n, "fail", num(op.Fail))
	}
	if op.Crash > 0 {
		add(n, "crash", num(op.Crash))
	}
	return n, nil
}

func expectNode(ex *Expect) (*yaml.Node, error) {
	n := flow(mapping())
	if ex.Error != "" {
		add(n, "error", str(ex.Error))
	}
	if ex.Status != "" {
		add(n, "status", str(ex.Status))
	}
	if ex.HasErrors {
		list := flow(&yaml.Node{Kind: yaml.SequenceNode})
		for _, e := range ex.Errors {
			en := flow(mapping())
			add(en, "table", str(e.Table))
			add(en, "id", str(e.ID))
			add(en, "status", num(e.Status))
			list.Content = append(list.Content, en)
		}
		add(n, "errors", list)
	}
	if ex.HasItem {
		if ex.Item == nil {
			add(n, "item", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"})
		} else {
			item, err := itemNode(ex.Item)
			if err != nil {
				return nil, err
			}
			add(n, "item", item)
		}
	}
	if ex.HasRows {
		add(n, "rows", flowList(ex.Rows))
	}
	if ex.HasRequests {
		add(n, "requests", flowList(ex.Requests))
	}
	return n, nil
}

func rowsNode(tables map[string]map[string]map[string]any) (*yaml.Node, error) {
	n := flow(mapping())
	for _, t := range sortedNames(tables) {
		rows := flow(mapping())
		for _, id := range sortedNames(tables[t]) {
			if tables[t][id] == nil {
				add(rows, id, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"})
				continue
			}
			item, err := itemNode(tables[t][id])
			if err != nil {
				return nil, err
			}
			add(rows, id, item)
		}
		add(n, t, rows)
	}
	return n, nil
}

func checkNode(c *Check) (*yaml.Node, error) {
	n := flow(mapping())
	if c.Server != nil {
		s, err := rowsNode(c.Server)
		if err != nil {
			return nil, err
		}
		add(n, "server", s)
	}
	for _, name := range sortedNames(c.Clients) {
		cc := c.Clients[name]
		cn, err := rowsNode(cc.Tables)
		if err != nil {
			return nil, err
		}
		if cc.Errors != nil {
			cn.Content = append([]*yaml.Node{str("errors"), num(*cc.Errors)}, cn.Content...)
		}
		if cc.Pending != nil {
			cn.Content = append([]*yaml.Node{str("pending"), num(*cc.Pending)}, cn.Content...)
		}
		add(n, name, cn)
	}
	if c.Converged {
		add(n, "converged", boolean(true))
	}
	if len(c.Properties) > 0 {
		add(n, "properties", flowList(c.Properties))
	}
	return n, nil
}
