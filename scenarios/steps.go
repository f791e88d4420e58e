package scenarios

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/internal/odata"
	"github.com/conflictlab/conflictlab/reports"
)

// buildQuery turns a scenario's query into the client's; nil for none.
func buildQuery(q *Query) (*client.Query, error) {
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
				return nil, fmt.Errorf("orderby %q: want column [asc|desc], comma-separated", q.OrderBy)
			}
		}
	}
	if q.Top != nil {
		cq = cq.Top(*q.Top)
	}
	if q.Skip != nil {
		cq = cq.Skip(*q.Skip)
	}
	return cq, cq.Err()
}

func (r *runner) step(st *Step) error {
	r.lastErr = nil
	switch st.Actor {
	case "server":
		err := r.serverWrite(st.Op.Op, st.Op.Table, st.Op.Item, st.Op.ID)
		return r.expectError(st, err)
	case "fault":
		if _, err := r.srv.Faults().Add(*st.Fault); err != nil {
			return fail("the fault is put in force", "%v", err)
		}
		return nil
	case "heal":
		if st.Heal == "all" {
			r.srv.Faults().Reset()
			return nil
		}
		if !r.srv.Faults().Remove(st.Heal) {
			return fail("fault "+st.Heal+" is in force", "no such fault")
		}
		return nil
	case "clock":
		r.srv.Clock().Advance(time.Duration(st.ClockMs) * time.Millisecond)
		return nil
	case "converge":
		return r.converge(st.Converge.Rounds)
	case "check":
		return r.check(st.Check)
	}
	d := r.devices[st.Actor]
	mark := r.mark()
	err := r.clientOp(d, st)
	if err != nil {
		return err
	}
	if ex := st.Expect; ex != nil && ex.HasRequests && !r.lenient {
		got := requestLines(r.requests(mark, ""))
		if !matchRequests(ex.Requests, got) {
			return fail("requests "+strings.Join(ex.Requests, ", "), "%s", orNone(got))
		}
	}
	return nil
}

func orNone(lines []string) string {
	if len(lines) == 0 {
		return "no requests"
	}
	return strings.Join(lines, ", ")
}

// clientOp runs one op of a client with its expectations and the properties it is judged by.
func (r *runner) clientOp(d *device, st *Step) error {
	op, ctx := st.Op, r.ctx
	ex := st.Expect
	if ex == nil {
		ex = &Expect{}
	}
	var t *client.SyncTable
	if op.Table != "" {
		t = d.sc.Table(op.Table)
	}
	q, err := buildQuery(op.Query)
	if err != nil {
		return fail("a valid query", "%v", err)
	}
	switch op.Op {
	case "insert", "update", "delete":
		d.tables[strings.ToLower(op.Table)] = op.Table
		item := client.Item{}
		for k, v := range op.Item {
			item[k] = v
		}
		if op.Op == "delete" && op.Item == nil {
			item["id"] = op.ID
		}
		switch op.Op {
		case "insert":
			_, err = t.Insert(ctx, item)
		case "update":
			_, err = t.Update(ctx, item)
		default:
			err = t.Delete(ctx, item)
		}
		return r.expectError(st, err)
	case "lookup":
		row, err := t.Lookup(ctx, op.ID)
		if ex.HasItem && ex.Item == nil {
			if !errors.Is(err, client.ErrNotFound) {
				return fail("lookup finds nothing", "it returned %v, %v", row, err)
			}
			return nil
		}
		if err := r.expectError(st, err); err != nil || ex.Error != "" {
			return err
		}
		if ex.HasItem {
			if bad := matchFields(ex.Item, row); bad != "" {
				return fail("lookup returns "+fmt.Sprint(ex.Item), "%s", bad)
			}
		}
		return nil
	case "read", "query":
		var rows []client.Item
		if op.Op == "read" {
			rows, err = t.Read(ctx, q)
		} else {
			rows, err = d.c.Table(op.Table).Query(ctx, q)
		}
		if err := r.expectError(st, err); err != nil || ex.Error != "" {
			return err
		}
		if ex.HasRows {
			var ids []string
			for _, row := range rows {
				id, _ := row["id"].(string)
				ids = append(ids, id)
			}
			if !slices.Equal(ids, ex.Rows) && !(len(ids) == 0 && len(ex.Rows) == 0) {
				return fail(op.Op+" returns "+fmt.Sprint(ex.Rows), "%v", ids)
			}
		}
		return nil
	case "push":
		var opts []client.PushOption
		if op.Table != "" {
			opts = append(opts, client.OnlyTables(op.Table))
		}
		var res *client.PushResult
		err := r.observePush(d, func() error {
			var err error
			res, err = d.sc.Push(ctx, opts...)
			return err
		})
		if se := (*stepError)(nil); errors.As(err, &se) {
			return err
		}
		if res != nil {
			d.lastErrs = res.Errors
		}
		if err := r.expectError(st, err); err != nil {
			return err
		}
		return r.expectPush(ex, res, err)
	case "pull":
		d.tables[strings.ToLower(op.Table)] = op.Table
		return r.observePull(d, st, q)
	case "purge":
		return r.observePurge(d, st, q)
	case "restart":
		d.lastErrs = nil // they belong to the store that closes; resolve reads the new one's
		if d.path != "" {
			if err := d.store.Close(); err != nil {
				return fail("the store closes", "%v", err)
			}
			d.store = nil
		}
		return r.expectError(st, r.open(d))
	case "resolve":
		return r.expectError(st, r.resolve(d, op))
	}
	return fail("a known op", "%q", op.Op)
}

// expectPush compares a push's status and unhandled errors with the expect.
func (r *runner) expectPush(ex *Expect, res *client.PushResult, err error) error {
	if r.lenient {
		return nil
	}
	status := "complete"
	var pf *client.PushFailedError
	switch {
	case res != nil:
		status = pushStatusName(res.Status)
	case errors.As(err, &pf):
		status = pushStatusName(pf.Status)
	}
	if ex.Status != "" && ex.Status != status {
		return fail("push status "+ex.Status, "%s (%v)", status, err)
	}
	if ex.HasErrors {
		var errs []*client.TableOperationError
		switch {
		case res != nil:
			errs = res.Errors
		case pf != nil:
			errs = pf.Errors
		}
		var got, want []string
		for _, e := range errs {
			got = append(got, fmt.Sprintf("%s/%s %d", strings.ToLower(e.Table), strings.ToLower(e.ItemID), e.Status))
		}
		for _, e := range ex.Errors {
			want = append(want, fmt.Sprintf("%s/%s %d", strings.ToLower(e.Table), strings.ToLower(e.ID), e.Status))
		}
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			return fail("unhandled errors "+orNone(want), "%s", orNone(got))
		}
	}
	return nil
}

// observePush runs a push (or anything that pushes) and judges it by P5 when it met a conflict.
func (r *runner) observePush(d *device, run func() error) error {
	tables := r.knownTables(d)
	before, serr := check.Take(r.ctx, d.store, tables)
	mark := r.mark()
	err := run()
	if serr != nil {
		return err
	}
	reqs := r.requests(mark, d.spec.Name)
	if !hasConflict(reqs) || !slices.Contains([]string{"client-wins", "server-wins", "cancel"}, d.strategy) {
		return err
	}
	after, serr := check.Take(r.ctx, d.store, tables)
	if serr != nil {
		return err
	}
	status := "Complete"
	var pf *client.PushFailedError
	if errors.As(err, &pf) {
		status = pf.Status.String()
	} else if err != nil && !errors.Is(err, client.ErrPushFailed) {
		status = "failed: " + err.Error()
	}
	f := check.Strategy(check.PushObs{Strategy: d.strategy, Before: before, After: after, Requests: reqs, Status: status,
		IdenticalIsSuccess: d.spec.Options.TreatIdenticalAsSuccess,
		Server: func(table, id string) map[string]any {
			row, deleted, _ := r.serverRow(table, id)
			if deleted {
				return nil
			}
			return row
		}})
	if perr := r.property(f); perr != nil {
		return perr
	}
	return err
}

func hasConflict(reqs []check.Request) bool {
	for _, q := range reqs {
		if q.Method != "GET" && q.Answered && (q.Status == 409 || q.Status == 412 || q.Status == 404 && q.Method == "PATCH") {
			return true
		}
	}
	return false
}

// observePull runs a pull and judges it by P1 (and P5, for the push it makes).
func (r *runner) observePull(d *device, st *Step, q *client.Query) error {
	tables := r.knownTables(d, st.Op.Table)
	before, serr := check.Take(r.ctx, d.store, tables)
	mark := r.mark()
	err := r.observePush(d, func() error { return d.sc.Table(st.Op.Table).Pull(r.ctx, q, st.Op.QueryID) })
	if se := (*stepError)(nil); errors.As(err, &se) {
		return err
	}
	var pf *client.PushFailedError
	if errors.As(err, &pf) {
		d.lastErrs = pf.Errors
	}
	if serr == nil {
		after, aerr := check.Take(r.ctx, d.store, tables)
		if aerr == nil {
			f := check.PushBeforePull(check.PullObs{Table: st.Op.Table, Before: before, After: after,
				Requests: r.requests(mark, d.spec.Name), PushFailed: errors.Is(err, client.ErrPushFailed), Failed: err != nil})
			if perr := r.property(f); perr != nil {
				return perr
			}
		}
	}
	ex := st.Expect
	if ex == nil {
		ex = &Expect{}
	}
	if err := r.expectError(st, err); err != nil {
		return err
	}
	if ex.Status != "" || ex.HasErrors {
		return r.expectPush(ex, nil, err)
	}
	return nil
}

// observePurge runs a purge and judges it by P2.
func (r *runner) observePurge(d *device, st *Step, q *client.Query) error {
	tables := r.knownTables(d, st.Op.Table)
	before, serr := check.Take(r.ctx, d.store, tables)
	mark := r.mark()
	err := r.observePush(d, func() error { return d.sc.Table(st.Op.Table).Purge(r.ctx, q, st.Op.QueryID, st.Op.Force) })
	if se := (*stepError)(nil); errors.As(err, &se) {
		return err
	}
	if serr == nil {
		after, aerr := check.Take(r.ctx, d.store, tables)
		if aerr == nil {
			obs := check.PurgeObs{Table: st.Op.Table, QueryID: st.Op.QueryID, Force: st.Op.Force,
				PushesFirst: d.spec.Options.PurgePushesFirst, Before: before, After: after,
				Requests: r.requests(mark, d.spec.Name), Err: err, PendingChanges: errors.Is(err, client.ErrPurgePendingChanges)}
			if st.Op.Query != nil && st.Op.Query.Filter != "" {
				expr, perr := odata.ParseFilter(st.Op.Query.Filter)
				if perr == nil {
					obs.Match = store.Query{Filter: expr}.Match
				}
			}
			if perr := r.property(check.Purge(obs)); perr != nil {
				return perr
			}
		}
	}
	return r.expectError(st, err)
}

// resolve settles an unhandled error of the client's last push.
func (r *runner) resolve(d *device, op *Op) error {
	var target *client.TableOperationError
	errs := d.lastErrs
	if len(errs) == 0 {
		stored, err := d.sc.OperationErrors(r.ctx)
		if err != nil {
			return err
		}
		errs = stored
	}
	for _, e := range errs {
		if strings.EqualFold(e.Table, op.Table) && strings.EqualFold(e.ItemID, op.ID) {
			target = e
		}
	}
	if target == nil {
		return fail("an unhandled error for "+op.Table+"/"+op.ID, "there is none")
	}
	switch op.How {
	case "cancel-and-discard":
		return target.CancelAndDiscardItem(r.ctx)
	case "cancel-and-update":
		item := op.Item
		if item == nil {
			item = target.ServerItem
		}
		if item == nil {
			return fail("a server item to keep", "the error carries none (status %d)", target.Status)
		}
		return target.CancelAndUpdateItem(r.ctx, withID(item, op.ID))
	default: // update-operation
		item := op.Item
		if item == nil {
			row, err := d.sc.Table(op.Table).Lookup(r.ctx, op.ID)
			switch {
			case errors.Is(err, client.ErrNotFound) && target.Item != nil:
				row = withID(target.Item, op.ID) // a delete: its row is gone, its item is what it sent
			case err != nil:
				return err
			}
			item = row
			if target.ServerItem != nil {
				for k, v := range target.ServerItem {
					if strings.EqualFold(strings.TrimPrefix(k, "__"), "version") {
						item[k] = v
					}
				}
			}
		}
		return target.UpdateOperation(r.ctx, withID(item, op.ID))
	}
}

func withID(item map[string]any, id string) client.Item {
	out := client.Item{}
	for k, v := range item {
		out[k] = v
	}
	if _, ok := out["id"]; !ok {
		out["id"] = id
	}
	return out
}

// converge heals, then lets every client push and pull in full every table it knows until
// nothing is pending and nothing changes, and judges the result by P4.
func (r *runner) converge(rounds int) error {
	if r.srv != nil {
		r.srv.Faults().Reset()
	}
	names := sortedNames(r.devices)
	var last string
	for round := 1; ; round++ {
		for _, name := range names {
			d := r.devices[name]
			err := r.observePush(d, func() error { _, err := d.sc.Push(r.ctx); return err })
			if se := (*stepError)(nil); errors.As(err, &se) {
				return err
			}
			for _, table := range sortedNames(d.tables) {
				err := r.observePush(d, func() error { return d.sc.Table(d.tables[table]).Pull(r.ctx, nil, "") })
				if se := (*stepError)(nil); errors.As(err, &se) {
					return err
				}
			}
		}
		state, pending, err := r.fingerprint()
		if err != nil {
			return fail("the clients can be read", "%v", err)
		}
		if pending == 0 && state == last {
			break
		}
		if round >= rounds {
			return fail(fmt.Sprintf("converge settles within %d rounds", rounds), "%d operation(s) still pending or rows still changing", pending)
		}
		last = state
	}
	return r.convergedCheck()
}

// fingerprint renders every client's rows and queue, to see whether a round changed anything.
func (r *runner) fingerprint() (string, int, error) {
	var b strings.Builder
	pending := 0
	for _, name := range sortedNames(r.devices) {
		d := r.devices[name]
		snap, err := check.Take(r.ctx, d.store, r.knownTables(d))
		if err != nil {
			return "", 0, err
		}
		pending += len(snap.Ops)
		fmt.Fprintf(&b, "%s %v %v\n", name, snap.Rows, len(snap.Ops))
	}
	return b.String(), pending, nil
}

// convergedCheck judges P4 for every client and every table it has written to or pulled.
func (r *runner) convergedCheck() error {
	for _, name := range sortedNames(r.devices) {
		d := r.devices[name]
		for _, table := range sortedNames(d.tables) {
			local, err := d.sc.Table(d.tables[table]).Read(r.ctx, nil)
			if err != nil {
				return fail("the client's rows can be read", "%v", err)
			}
			server, err := r.liveRows(d.tables[table])
			if err != nil {
				return fail("the server's rows can be read", "%v", err)
			}
			if err := r.property(check.Converged(name, d.tables[table], local, server)); err != nil {
				return err
			}
		}
	}
	return nil
}

// check judges a check step.
func (r *runner) check(c *Check) error {
	for _, table := range sortedNames(c.Server) {
		for _, id := range sortedNames(c.Server[table]) {
			want := c.Server[table][id]
			row, deleted, err := r.serverRow(table, id)
			if err != nil {
				return fail("the server's row can be read", "%v", err)
			}
			what := fmt.Sprintf("server %s/%s", table, id)
			switch {
			case want == nil:
				if row != nil && !deleted {
					return fail(what+" is absent or deleted", "it is live: %v", row)
				}
			case row == nil:
				return fail(what+" is "+fmt.Sprint(want), "there is no such row")
			case deleted && !wantsDeleted(want):
				return fail(what+" is "+fmt.Sprint(want), "it is deleted")
			case !deleted && wantsDeleted(want):
				return fail(what+" is deleted", "it is live: %v", row)
			default:
				if bad := matchFields(want, row); bad != "" {
					return fail(what+" is "+fmt.Sprint(want), "%s", bad)
				}
			}
		}
	}
	for _, name := range sortedNames(c.Clients) {
		cc, d := c.Clients[name], r.devices[name]
		if cc.Pending != nil {
			ops, err := d.sc.PendingOperations(r.ctx)
			if err != nil {
				return fail(name+"'s queue can be read", "%v", err)
			}
			if len(ops) != *cc.Pending {
				var list []string
				for _, op := range ops {
					list = append(list, fmt.Sprintf("%s %s/%s", op.Kind, op.Table, op.ItemID))
				}
				return fail(fmt.Sprintf("%s has %d pending operation(s)", name, *cc.Pending), "%d: %s", len(ops), orNone(list))
			}
		}
		if cc.Errors != nil {
			errs, err := d.sc.OperationErrors(r.ctx)
			if err != nil {
				return fail(name+"'s errors can be read", "%v", err)
			}
			if len(errs) != *cc.Errors {
				var list []string
				for _, e := range errs {
					list = append(list, fmt.Sprintf("%s/%s %d", e.Table, e.ItemID, e.Status))
				}
				return fail(fmt.Sprintf("%s has %d unhandled error(s)", name, *cc.Errors), "%d: %s", len(errs), orNone(list))
			}
		}
		for _, table := range sortedNames(cc.Tables) {
			for _, id := range sortedNames(cc.Tables[table]) {
				want := cc.Tables[table][id]
				row, err := d.sc.Table(table).Lookup(r.ctx, id)
				what := fmt.Sprintf("%s's %s/%s", name, table, id)
				switch {
				case errors.Is(err, client.ErrNotFound):
					if want != nil {
						return fail(what+" is "+fmt.Sprint(want), "it is not in the local store")
					}
				case err != nil:
					return fail(what+" can be read", "%v", err)
				case want == nil:
					return fail(what+" is absent", "it is there: %v", row)
				default:
					if bad := matchFields(want, row); bad != "" {
						return fail(what+" is "+fmt.Sprint(want), "%s", bad)
					}
				}
			}
		}
	}
	if c.Converged {
		if err := r.convergedCheck(); err != nil {
			return err
		}
	}
	for _, p := range c.Properties {
		switch p {
		case "P4":
			if err := r.convergedCheck(); err != nil {
				return err
			}
		case "P7":
			if err := r.property(check.ServerIntegrity(r.events(0))); err != nil {
				return err
			}
		default: // P1, P2, P5 are judged at every pull, purge and push: none may be violated so far
			for _, res := range r.tally.Results() {
				if res.ID == p && res.Verdict == reports.Violated {
					return &stepError{expectation: p + " holds", got: res.Detail, property: p}
				}
			}
		}
	}
	return nil
}
