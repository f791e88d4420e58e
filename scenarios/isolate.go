package scenarios

import (
	"crypto/rand"
	"strings"
)

// A server that cannot be emptied between runs keeps the rows of earlier runs. Each run then
// keeps apart by ids of its own: every id the scenario names gets a suffix unique to the run
// (e1 becomes e1-k3x9qz), and the checks look only at rows with that suffix: the reads a step
// expects, the server's rows at a converge, the rows that must match. The scenario file is
// not changed; the run's requests and messages show the suffixed ids.

// newSuffix is a run's id suffix: a hyphen and six random letters and digits.
func newSuffix() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "-" + string(b)
}

// Suffix is what the session adds to every id ("" when the server is emptied before the run
// instead): a caller that makes steps up can use ids that carry it already.
func (s *Session) Suffix() string { return s.r.suffix }

// ours reports whether a row belongs to this run.
func (r *runner) ours(row map[string]any) bool {
	if r.suffix == "" {
		return true
	}
	id, _ := row["id"].(string)
	return strings.HasSuffix(strings.ToLower(id), strings.ToLower(r.suffix))
}

// own is an id of this run: the id with the run's suffix (once).
func (r *runner) own(id string) string {
	if r.suffix == "" || id == "" || strings.HasSuffix(strings.ToLower(id), strings.ToLower(r.suffix)) {
		return id
	}
	return id + r.suffix
}

// ownItem is a copy of an item with its id made the run's.
func (r *runner) ownItem(item map[string]any) map[string]any {
	if r.suffix == "" || item == nil {
		return item
	}
	out := make(map[string]any, len(item))
	for k, v := range item {
		if id, ok := v.(string); ok && strings.EqualFold(k, "id") {
			v = r.own(id)
		}
		out[k] = v
	}
	return out
}

// ownKeys is a map by ids, with the run's ids.
func ownKeys[V any](r *runner, m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[r.own(k)] = v
	}
	return out
}

// ownStep is a copy of a step whose ids are the run's; the step itself is left as it is.
func (r *runner) ownStep(st *Step) *Step {
	if r.suffix == "" {
		return st
	}
	c := *st
	if st.Op != nil {
		op := *st.Op
		op.Item = r.ownItem(st.Op.Item)
		op.ID = r.own(st.Op.ID)
		c.Op = &op
	}
	if st.While != nil {
		c.While = r.ownStep(st.While)
	}
	if st.Fault != nil {
		f := *st.Fault
		f.Match.ID = r.own(f.Match.ID)
		c.Fault = &f
	}
	if st.Check != nil {
		ch := *st.Check
		ch.Server = map[string]map[string]map[string]any{}
		for t, rows := range st.Check.Server {
			ch.Server[t] = ownKeys(r, rows)
		}
		ch.Clients = map[string]*ClientCheck{}
		for name, cc := range st.Check.Clients {
			n := *cc
			n.Tables = map[string]map[string]map[string]any{}
			for t, rows := range cc.Tables {
				n.Tables[t] = ownKeys(r, rows)
			}
			ch.Clients[name] = &n
		}
		c.Check = &ch
	}
	if st.Expect != nil {
		ex := *st.Expect
		ex.Errors = nil
		for _, e := range st.Expect.Errors {
			e.ID = r.own(e.ID)
			ex.Errors = append(ex.Errors, e)
		}
		ex.Item = r.ownItem(st.Expect.Item)
		ex.Rows = nil
		for _, id := range st.Expect.Rows {
			ex.Rows = append(ex.Rows, r.own(id))
		}
		ex.Requests = nil
		for _, line := range st.Expect.Requests {
			ex.Requests = append(ex.Requests, r.ownRequest(line))
		}
		c.Expect = &ex
	}
	return &c
}

// ownRequest rewrites the id of an expected request line "METHOD /tables/t/id".
func (r *runner) ownRequest(line string) string {
	method, path, ok := strings.Cut(line, " ")
	if !ok {
		return line
	}
	rest, ok := strings.CutPrefix(path, "/tables/")
	if !ok {
		return line
	}
	table, id, ok := strings.Cut(rest, "/")
	if !ok || id == "" {
		return line
	}
	return method + " /tables/" + table + "/" + r.own(id)
}

// ownTables are the initial rows of the server with the run's ids.
func (r *runner) ownTables(tables []TableRows) []TableRows {
	if r.suffix == "" {
		return tables
	}
	out := make([]TableRows, len(tables))
	for i, tr := range tables {
		out[i] = TableRows{Table: tr.Table}
		for _, row := range tr.Rows {
			out[i].Rows = append(out[i].Rows, r.ownItem(row))
		}
	}
	return out
}
