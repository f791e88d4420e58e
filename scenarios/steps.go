package scenarios

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/internal/odata"
	"github.com/conflictlab/conflictlab/reports"
)

func (r *runner) step(st *Step) error {
	r.lastErr, r.whileErr = nil, nil
	switch st.Actor {
	case "server":
		err := r.serverWrite(st.Op.Op, st.Op.Table, st.Op.Item, st.Op.ID)
		if err != nil {
			err = actorError(err)
		}
		return r.expectError(st, err)
	case "fault":
		if err := r.server.AddFault(r.ctx, *st.Fault); err != nil {
			return fail("the fault is put in force", "%v", err)
		}
		return nil
	case "heal":
		ok, err := r.server.Heal(r.ctx, st.Heal)
		switch {
		case err != nil:
			return fail("the faults can be healed", "%v", err)
		case !ok:
			return fail("fault "+st.Heal+" is in force", "no such fault")
		}
		return nil
	case "clock":
		if err := r.server.AdvanceClock(r.ctx, time.Duration(st.ClockMs)*time.Millisecond); err != nil {
			return fail("the server's clock moves", "%v", err)
		}
		return nil
	case "converge":
		return r.converge(st.Converge.Rounds)
	case "check":
		return r.check(st.Check)
	}
	d := r.devices[st.Actor]
	mark := r.mark()
	if st.While != nil {
		return r.concurrently(d, st, mark)
	}
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
	switch op.Op {
	case "insert", "update", "delete":
		d.tables[strings.ToLower(op.Table)] = op.Table
		item := drivers.Item{}
		for k, v := range op.Item {
			item[k] = v
		}
		if op.Op == "delete" && op.Item == nil {
			item["id"] = op.ID
		}
		var err error
		switch op.Op {
		case "insert":
			_, err = d.dev.Insert(ctx, op.Table, item)
		case "update":
			_, err = d.dev.Update(ctx, op.Table, item)
		default:
			err = d.dev.Delete(ctx, op.Table, item)
		}
		return r.expectError(st, err)
	case "lookup":
		row, err := d.dev.Lookup(ctx, op.Table, op.ID)
		if ex.HasItem && ex.Item == nil {
			r.lastErr = err
			if drivers.KindOf(err) == drivers.KindNotFound {
				return nil
			}
			if r.driverError(err); r.skip != "" {
				return err
			}
			return fail("lookup finds nothing", "it returned %v, %v", row, err)
		}
		if err := r.expectError(st, err); err != nil || ex.Error != "" {
			return err
		}
		if ex.HasItem {
			if bad := matchFields(ex.Item, row, nil); bad != "" {
				return fail("lookup returns "+fmt.Sprint(ex.Item), "%s", bad)
			}
		}
		return nil
	case "read", "query":
		var rows []drivers.Item
		var err error
		if op.Op == "read" {
			rows, err = d.dev.Read(ctx, op.Table, op.Query)
		} else {
			rows, err = d.dev.Query(ctx, op.Table, op.Query)
		}
		if err := r.expectError(st, err); err != nil || ex.Error != "" {
			return err
		}
		if ex.HasRows {
			var ids []string
			for _, row := range rows {
				if id, _ := row["id"].(string); r.ours(row) {
					ids = append(ids, id)
				}
			}
			if !slices.Equal(ids, ex.Rows) && !(len(ids) == 0 && len(ex.Rows) == 0) {
				return fail(op.Op+" returns "+fmt.Sprint(ex.Rows), "%v", ids)
			}
		}
		return nil
	case "push":
		var tables []string
		if op.Table != "" {
			tables = []string{op.Table}
		}
		var res drivers.PushResult
		err := r.observePush(d, tables, "", func() error {
			var err error
			res, err = d.dev.Push(ctx, tables...)
			if err == nil {
				d.lastErrs = res.Errors
				err = pushError(res)
				if perr := r.observeShown(d, res.Status, res.Errors); perr != nil {
					return perr
				}
			}
			return err
		})
		if se := (*stepError)(nil); errors.As(err, &se) {
			return err
		}
		if err := r.expectError(st, err); err != nil {
			return err
		}
		return r.expectPush(ex, err)
	case "pull":
		d.tables[strings.ToLower(op.Table)] = op.Table
		return r.observePull(d, st, nil)
	case "purge":
		return r.observePurge(d, st)
	case "restart":
		d.lastErrs = nil // they belong to the device that closes; resolve reads the new one's
		if err := d.dev.Close(ctx); err != nil {
			return fail("the store closes", "%v", err)
		}
		d.dev = nil
		return r.expectError(st, r.open(d))
	case "resolve":
		err := r.resolve(d, op)
		if se := (*stepError)(nil); errors.As(err, &se) && se.property != "" {
			return err // a property the resolution broke
		}
		return r.expectError(st, err)
	case "store-fault":
		sf, ok := d.dev.(drivers.StoreFaulter)
		if !ok {
			return r.expectError(st, &drivers.Error{Kind: drivers.KindUnsupported, Message: "its store cannot be made to fail (store-fault)"})
		}
		if op.Crash > 0 {
			return r.expectError(st, sf.CrashStore(ctx, op.Crash))
		}
		return r.expectError(st, sf.FailStore(ctx, op.Fail))
	}
	return fail("a known op", "%q", op.Op)
}

// expectPush compares the status and unhandled errors of a push (or of the push a pull or
// purge made) with the expect.
func (r *runner) expectPush(ex *Expect, err error) error {
	if r.lenient {
		return nil
	}
	status := drivers.StatusComplete
	var errs []drivers.OpError
	var de *drivers.Error
	if errors.As(err, &de) && de.PushStatus != "" {
		status, errs = de.PushStatus, de.Errors
	}
	if ex.Status != "" && ex.Status != status {
		return fail("push status "+ex.Status, "%s (%v)", status, err)
	}
	if ex.HasErrors {
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

// snapshot reads a device's store for the checkers.
func (r *runner) snapshot(d *device, tables []string) (check.Snapshot, error) {
	snap, err := d.dev.Snapshot(r.ctx, tables)
	if err != nil {
		r.driverError(err)
	}
	return snap, err
}

// observePush runs a push (or anything that pushes) limited to the tables of scope (nil: all),
// and judges its requests by P10, then the push by P5 when it met a conflict. (What was sent
// first: a client wins that sends the refused version again breaks both, and P10 names the
// request that did it.)
// purged is the table whose rows the step removes after its push (a purge's), "" for none.
func (r *runner) observePush(d *device, scope []string, purged string, run func() error) error {
	tables := r.knownTables(d)
	before, serr := r.snapshot(d, tables)
	mark := r.mark()
	err := run()
	if se := (*stepError)(nil); serr != nil || errors.As(err, &se) {
		return err
	}
	reqs := r.requests(mark, d.spec.Name)
	partial := slices.ContainsFunc(r.events(mark), func(e fakeserver.Event) bool { return e.Source == fakeserver.SourceDropped })
	if perr := r.property(check.PushRequests(check.PushObs{Strategy: d.strategy, Before: before, Requests: reqs,
		Scope: scope, MaxTries: d.spec.Options.MaxTries, Partial: partial})); perr != nil {
		return perr
	}
	if perr := r.judgeStrategy(d, before, reqs, purged, err); perr != nil {
		return perr
	}
	return err
}

// judgeStrategy judges by P5 a push that met a conflict, from the store before it, its requests,
// the table whose rows the step removed after it (purged) and its error.
func (r *runner) judgeStrategy(d *device, before check.Snapshot, reqs []check.Request, purged string, err error) error {
	judged := slices.Contains([]string{"client-wins", "server-wins", "cancel"}, d.strategy) || d.spec.Options.TreatIdenticalAsSuccess
	if !check.HasConflict(reqs) || !judged {
		return nil
	}
	after, serr := r.snapshot(d, r.knownTables(d))
	if serr != nil {
		return nil
	}
	status := "Complete"
	var de *drivers.Error
	switch {
	case errors.As(err, &de) && de.PushStatus != "":
		status = pushStatusTitle(de.PushStatus)
	case err != nil:
		status = "failed: " + err.Error()
	}
	obs := check.PushObs{Strategy: d.strategy, Before: before, After: after, Requests: reqs, Status: status,
		IdenticalIsSuccess: d.spec.Options.TreatIdenticalAsSuccess,
		Server: func(table, id string) map[string]any {
			row, deleted, _ := r.serverRow(table, id)
			if deleted {
				return nil
			}
			return row
		}}
	if purged != "" {
		obs.Removed = func(table, _ string) bool { return strings.EqualFold(table, purged) }
	}
	return r.property(check.Strategy(obs))
}

// pushStatusTitle is a push status as the checkers name it: cancelled-by-operation is
// CancelledByOperation.
func pushStatusTitle(status string) string {
	var b strings.Builder
	for _, w := range strings.Split(status, "-") {
		if w != "" {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// observePull runs a pull and judges it by P1 and P10 (and P5, P10 and P11 for the push it
// makes); c, when not nil, plays the pull with another op during it (a step's while).
func (r *runner) observePull(d *device, st *Step, c *concurrent) error {
	tables := r.knownTables(d, st.Op.Table)
	before, serr := r.snapshot(d, tables)
	mark := r.mark()
	pull := func() error { return d.dev.Pull(r.ctx, st.Op.Table, st.Op.Query, st.Op.QueryID) }
	if c != nil {
		pull = c.run
	}
	err := r.observePush(d, r.pushScope(d, st.Op.Table), "", func() error { return r.shownByFailure(d, pull()) })
	if se := (*stepError)(nil); errors.As(err, &se) {
		return err
	}
	var de *drivers.Error
	if errors.As(err, &de) && de.PushStatus != "" {
		d.lastErrs = de.Errors
	}
	if serr == nil {
		after, aerr := r.snapshot(d, tables)
		if aerr == nil {
			obs := check.PullObs{Table: st.Op.Table, Before: before, After: after, QueryID: st.Op.QueryID,
				Requests: r.requests(mark, d.spec.Name), PushFailed: drivers.Matches(err, drivers.KindPushFailed), Failed: err != nil}
			if c != nil {
				obs.During = c.during
			}
			if st.Op.Query != nil {
				obs.Top = st.Op.Query.Top
			}
			for _, f := range []check.Finding{check.PushBeforePull(obs), check.PullRequests(obs)} {
				if perr := r.property(f); perr != nil {
					return perr
				}
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
		return r.expectPush(ex, err)
	}
	return nil
}

// observePurge runs a purge and judges it by P2.
func (r *runner) observePurge(d *device, st *Step) error {
	tables := r.knownTables(d, st.Op.Table)
	before, serr := r.snapshot(d, tables)
	mark := r.mark()
	var scope []string
	if d.spec.Options.PurgePushesFirst {
		scope = r.pushScope(d, st.Op.Table)
	}
	err := r.observePush(d, scope, st.Op.Table, func() error {
		return r.shownByFailure(d, d.dev.Purge(r.ctx, st.Op.Table, st.Op.Query, st.Op.QueryID, st.Op.Force))
	})
	if se := (*stepError)(nil); errors.As(err, &se) {
		return err
	}
	if serr == nil {
		after, aerr := r.snapshot(d, tables)
		if aerr == nil {
			obs := check.PurgeObs{Table: st.Op.Table, QueryID: st.Op.QueryID, Force: st.Op.Force,
				PushesFirst: d.spec.Options.PurgePushesFirst, Before: before, After: after,
				Requests: r.requests(mark, d.spec.Name), Err: err, PendingChanges: drivers.Matches(err, drivers.KindPurgePendingChanges)}
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

// resolve settles an unhandled error of the client's last push. Without an item,
// cancel-and-update keeps the server's item, and update-operation sends the local row (a
// delete: what it sent) with the server's version.
func (r *runner) resolve(d *device, op *Op) error {
	var target *drivers.OpError
	errs := d.lastErrs
	if len(errs) == 0 {
		stored, err := d.dev.Errors(r.ctx)
		if err != nil {
			return err
		}
		errs = stored
	}
	for i, e := range errs {
		if strings.EqualFold(e.Table, op.Table) && strings.EqualFold(e.ItemID, op.ID) {
			target = &errs[i]
		}
	}
	if target == nil {
		return fail("an unhandled error for "+op.Table+"/"+op.ID, "there is none")
	}
	item := op.Item
	switch op.How {
	case "cancel-and-discard":
		item = nil
	case "cancel-and-update":
		if item == nil {
			item = target.ServerItem
		}
		if item == nil {
			return fail("a server item to keep", "the error carries none (status %d)", target.Status)
		}
	default: // update-operation
		if item == nil {
			row, err := d.dev.Lookup(r.ctx, op.Table, op.ID)
			switch {
			case drivers.KindOf(err) == drivers.KindNotFound && target.Item != nil:
				row = withID(target.Item, op.ID) // a delete: its row is gone, its item is what it sent
			case err != nil:
				return err
			}
			item = row
			for k, v := range target.ServerItem {
				if strings.EqualFold(strings.TrimPrefix(k, "__"), "version") {
					item[k] = v
				}
			}
		}
	}
	if item != nil {
		item = withID(item, op.ID)
		if mentionsServer(item) {
			server, _, err := r.serverRow(op.Table, op.ID)
			if err != nil || server == nil {
				return fail("the server's row of "+op.ID+" can be read", "%v (row %v)", err, server)
			}
			for k, v := range item {
				if v == serverValue {
					item[k] = server[strings.TrimPrefix(k, "__")]
				}
			}
		}
	}
	return r.observeResolve(d, op, item)
}

// observeResolve resolves and judges the resolution by P11.
func (r *runner) observeResolve(d *device, op *Op, item drivers.Item) error {
	tables := r.knownTables(d, op.Table)
	before, serr := r.snapshot(d, tables)
	err := d.dev.Resolve(r.ctx, op.Table, op.ID, op.How, item)
	if serr != nil {
		return err
	}
	after, aerr := r.snapshot(d, tables)
	if aerr != nil {
		return err
	}
	if perr := r.property(check.Resolution(check.ResolveObs{Table: op.Table, ItemID: op.ID, How: op.How, Item: item,
		Before: before, After: after, Err: err})); perr != nil {
		return perr
	}
	return err
}

// pushScope is the tables the push before a pull (or a purge that pushes) is for: the table
// under pushScope table, every table (nil) by default.
func (r *runner) pushScope(d *device, table string) []string {
	if d.spec.Options.PushScope == "table" {
		return []string{table}
	}
	return nil
}

// observeShown judges by P11 the errors a push showed its handler (and its caller) against
// the errors the store recorded.
func (r *runner) observeShown(d *device, status string, errs []drivers.OpError) error {
	after, err := r.snapshot(d, r.knownTables(d))
	if err != nil {
		return nil
	}
	shown := make([]check.ShownError, len(errs))
	for i, e := range errs {
		shown[i] = check.ShownError{Table: e.Table, ItemID: e.ItemID, Status: e.Status}
	}
	return r.property(check.HandlerShown(status, shown, after))
}

// shownByFailure judges by P11 the push a pull or purge made, when it failed and says what
// it showed; it returns err, or the violation.
func (r *runner) shownByFailure(d *device, err error) error {
	var de *drivers.Error
	if !errors.As(err, &de) || de.PushStatus == "" {
		return err
	}
	if perr := r.observeShown(d, de.PushStatus, de.Errors); perr != nil {
		return perr
	}
	return err
}

func withID(item map[string]any, id string) drivers.Item {
	out := drivers.Item{}
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
	if _, err := r.server.Heal(r.ctx, "all"); err != nil {
		return fail("the faults can be healed", "%v", err)
	}
	names := sortedNames(r.devices)
	var last settled
	for round := 1; ; round++ {
		failed := false // a push or pull that failed: the round settled nothing for that client
		for _, name := range names {
			d := r.devices[name]
			// Only a client's own push and pull change its store during a converge, so the
			// last round's reading of it holds: with nothing queued, neither its push nor its
			// pull's push sends a write, no conflict can arise, and P5 has nothing to judge
			// (observePush would read the store before each for nothing).
			observe, shown := r.observePush, r.observeShown
			if round > 1 && last.ops[name] == 0 {
				observe = func(_ *device, _ []string, _ string, run func() error) error { return run() }
				shown = func(*device, string, []drivers.OpError) error { return nil } // nothing queued, no error
			}
			err := observe(d, nil, "", func() error {
				res, err := d.dev.Push(r.ctx)
				if err == nil {
					err = pushError(res)
					if perr := shown(d, res.Status, res.Errors); perr != nil {
						return perr
					}
				}
				return err
			})
			if se := (*stepError)(nil); errors.As(err, &se) {
				return err
			}
			failed = failed || err != nil
			for _, table := range sortedNames(d.tables) {
				mark := r.mark()
				err := observe(d, r.pushScope(d, d.tables[table]), "", func() error {
					return r.shownByFailure(d, d.dev.Pull(r.ctx, d.tables[table], nil, ""))
				})
				if se := (*stepError)(nil); errors.As(err, &se) {
					return err
				}
				failed = failed || err != nil
				f := check.PullRequests(check.PullObs{Table: d.tables[table], Requests: r.requests(mark, d.spec.Name), Failed: err != nil})
				if perr := r.property(f); perr != nil {
					return perr
				}
			}
		}
		state, err := r.settled()
		if err != nil {
			return fail("the clients can be read", "%v", err)
		}
		if round > 1 && !failed && state.pending == 0 && reflect.DeepEqual(state.rows, last.rows) {
			break
		}
		if round >= rounds {
			return fail(fmt.Sprintf("converge settles within %d rounds", rounds), "%d operation(s) still pending or rows still changing", state.pending)
		}
		last = state
	}
	return r.convergedCheck()
}

// settled is what a converge round left: every client's rows (of this run) and how many
// operations each still queues, to see whether a round changed anything.
type settled struct {
	rows    map[string]map[string]map[string]map[string]any // client → table → id → row
	ops     map[string]int
	pending int
}

func (r *runner) settled() (settled, error) {
	st := settled{rows: map[string]map[string]map[string]map[string]any{}, ops: map[string]int{}}
	for _, name := range sortedNames(r.devices) {
		d := r.devices[name]
		snap, err := r.snapshot(d, r.knownTables(d))
		if err != nil {
			return st, err
		}
		st.ops[name] = len(snap.Ops)
		st.pending += len(snap.Ops)
		for t, rows := range snap.Rows {
			for id, row := range rows {
				if !r.ours(row) {
					delete(snap.Rows[t], id)
				}
			}
		}
		st.rows[name] = snap.Rows
	}
	return st, nil
}

// convergedCheck judges P4 for every client and every table it has written to or pulled.
func (r *runner) convergedCheck() error {
	for _, name := range sortedNames(r.devices) {
		d := r.devices[name]
		for _, table := range sortedNames(d.tables) {
			all, err := d.dev.Read(r.ctx, d.tables[table], nil)
			if err != nil {
				return fail("the client's rows can be read", "%v", err)
			}
			server, err := r.liveRows(d.tables[table])
			if err != nil {
				return fail("the server's rows can be read", "%v", err)
			}
			gone := r.hardDeleted(d.tables[table], server)
			var local []map[string]any
			for _, row := range all {
				if r.ours(row) && !gone[strings.ToLower(fmt.Sprint(row["id"]))] {
					local = append(local, row)
				}
			}
			if err := r.property(check.Converged(name, d.tables[table], local, server)); err != nil {
				return err
			}
		}
	}
	return nil
}

// hardDeleted are the ids (lower case) of a table that the server deleted for real and has
// not now: under hard delete no tombstone tells a client that pulled such a row that it went
// (docs/semantics.md#pull), so P4 does not count it against the client.
func (r *runner) hardDeleted(table string, live []map[string]any) map[string]bool {
	if r.sc.Server.SoftDelete {
		return nil
	}
	gone := map[string]bool{}
	for _, e := range r.events(0) {
		if e.Op == fakeserver.OpDelete && e.Applied && strings.EqualFold(e.Table, table) {
			gone[strings.ToLower(e.ItemID)] = true
		}
	}
	for _, row := range live {
		delete(gone, strings.ToLower(fmt.Sprint(row["id"])))
	}
	return gone
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
				if bad := matchFields(want, row, row); bad != "" {
					return fail(what+" is "+fmt.Sprint(want), "%s", bad)
				}
			}
			if n, ok := want[writesKey]; ok {
				if got := r.writes(table, id); fmt.Sprint(got) != fmt.Sprint(n) {
					return fail(fmt.Sprintf("%s was written %v time(s)", what, n), "the history shows %d write(s) applied", got)
				}
			}
		}
	}
	for _, name := range sortedNames(c.Clients) {
		cc, d := c.Clients[name], r.devices[name]
		if cc.Pending != nil {
			snap, err := r.snapshot(d, nil)
			if err != nil {
				return fail(name+"'s queue can be read", "%v", err)
			}
			ops := snap.Ops
			if len(ops) != *cc.Pending {
				var list []string
				for _, op := range ops {
					list = append(list, fmt.Sprintf("%s %s/%s", op.Kind, op.Table, op.ItemID))
				}
				return fail(fmt.Sprintf("%s has %d pending operation(s)", name, *cc.Pending), "%d: %s", len(ops), orNone(list))
			}
		}
		if cc.Errors != nil {
			errs, err := d.dev.Errors(r.ctx)
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
				row, err := d.dev.Lookup(r.ctx, table, id)
				what := fmt.Sprintf("%s's %s/%s", name, table, id)
				switch {
				case drivers.KindOf(err) == drivers.KindNotFound:
					if want != nil {
						return fail(what+" is "+fmt.Sprint(want), "it is not in the local store")
					}
				case err != nil:
					return fail(what+" can be read", "%v", err)
				case want == nil:
					return fail(what+" is absent", "it is there: %v", row)
				default:
					var server map[string]any
					if mentionsServer(want) {
						if server, _, err = r.serverRow(table, id); err != nil {
							return fail("the server's row can be read", "%v", err)
						}
					}
					if bad := matchFields(want, row, server); bad != "" {
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
		default: // P1, P2, P5, P10 and P11 are judged at every pull, purge, push and resolve: none may be violated so far
			for _, res := range r.tally.Results() {
				if res.ID == p && res.Verdict == reports.Violated {
					return &stepError{expectation: p + " holds", got: res.Detail, property: p}
				}
			}
		}
	}
	return nil
}

// mentionsServer reports whether a check compares a column with the server's.
func mentionsServer(want map[string]any) bool {
	for _, v := range want {
		if v == serverValue || v == notServerValue {
			return true
		}
	}
	return false
}

// writes counts the writes the history shows applied to a row: its insert, updates, deletes
// and undeletes, by any client or another writer.
func (r *runner) writes(table, id string) int {
	n := 0
	for _, e := range r.events(0) {
		if e.Applied && e.Op != "" && e.Op != "query" && e.Op != "lookup" && strings.EqualFold(e.Table, table) && strings.EqualFold(e.ItemID, id) {
			n++
		}
	}
	return n
}
