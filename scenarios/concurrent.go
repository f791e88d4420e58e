package scenarios

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// A step with while plays two ops at once, deterministically: the pull's AtPage-th query of
// its table is held by a hold fault (docs/faults.md) until the other op is done, then let go.
// No sleeps decide the order: the other op starts once the server says the query is held.

// holdMs bounds how long the pull waits: the runner heals the hold as soon as the other op is
// done, so it is only reached when that op cannot finish while the pull waits.
const holdMs = 60_000

// concurrent is what observePull needs of a pull that has another op played during it.
type concurrent struct {
	// run plays the pull, with the other op during it when the pull reaches the page.
	run func() error
	// during are the rows the pull's own device wrote meanwhile, by id (nil: deleted), for P1.
	during map[string]map[string]any
	// pullErr is the pull's own error.
	pullErr error
}

// concurrently plays a client's pull with its while. P1 judges the pull knowing what its own
// device wrote while it waited. When the pull never sends the held query (its push failed, it
// has fewer pages), the other op plays after it.
func (r *runner) concurrently(d *device, st *Step, mark int) error {
	r.holds++
	hold := fakeserver.Rule{ID: fmt.Sprintf("while.%d", r.holds), Action: "hold", Params: map[string]any{"ms": float64(holdMs)},
		Match: fakeserver.Match{Method: []string{"GET"}, Op: []string{"query"}, Table: st.Op.Table, Client: d.cfg.InstallationID,
			After: max(st.AtPage, 1) - 1, Times: 1}}
	if err := r.server.AddFault(r.ctx, hold); err != nil {
		r.skip = "the target cannot hold the pull at a page (while): " + err.Error()
		return err
	}
	healed := false
	heal := func() error {
		if healed {
			return nil
		}
		healed = true
		if _, err := r.server.Heal(r.ctx, hold.ID); err != nil {
			return fail("the pull's hold can be healed", "%v", err)
		}
		return nil
	}
	defer heal() // also after a panic: the pull's goroutine must not wait for holdMs

	var whileErr, whileOwn error
	played := false
	c := &concurrent{}
	c.run = func() error {
		done := make(chan error, 1)
		go func() {
			defer func() {
				if p := recover(); p != nil {
					done <- &drivers.Error{Kind: drivers.KindDriver, Message: fmt.Sprintf("the pull panicked: %v", p)}
				}
			}()
			done <- d.dev.Pull(r.ctx, st.Op.Table, st.Op.Query, st.Op.QueryID)
		}()
		held, pullErr, err := r.waitHeld(hold.ID, done)
		if err != nil {
			_ = heal()
			<-done
			return err
		}
		if !held {
			c.pullErr = pullErr
			return pullErr // the other op plays after the pull is judged
		}
		played = true
		whileErr, whileOwn, c.during = r.playWhile(d, st)
		if err := heal(); err != nil {
			<-done
			return err
		}
		c.pullErr = <-done
		return c.pullErr
	}
	err := r.observePull(d, st, c)
	if se := (*stepError)(nil); !played && errors.As(err, &se) {
		r.lastErr = c.pullErr
		return err // the run stops here: the other op would have come after
	}
	if !played {
		if herr := heal(); herr != nil && err == nil {
			err = herr
		}
		whileErr, whileOwn, _ = r.playWhile(d, st)
	}
	r.lastErr, r.whileErr = c.pullErr, whileOwn
	if r.skip != "" {
		return err
	}
	if whileErr != nil && played {
		return whileErr // it failed first
	}
	if err == nil {
		err = r.expectRequests(st, mark, d.spec.Name)
	}
	if err != nil {
		return err
	}
	return whileErr
}

// waitHeld waits until the hold fired (held) or the pull ended without reaching it (its
// error in pullErr). err is a failure to read the faults, or the run's end.
func (r *runner) waitHeld(id string, done <-chan error) (held bool, pullErr, err error) {
	wait := 20 * time.Microsecond
	for {
		status, serr := r.server.FaultStatus(r.ctx)
		if serr != nil {
			return false, nil, fail("the faults in force can be read", "%v", serr)
		}
		for _, s := range status {
			if s.Rule.ID == id && s.Fired > 0 {
				return true, nil, nil
			}
		}
		t := time.NewTimer(wait)
		select {
		case pullErr := <-done:
			t.Stop()
			return false, pullErr, nil
		case <-r.ctx.Done():
			t.Stop()
			return false, nil, r.ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 2*time.Millisecond)
	}
}

// playWhile plays the other op of a pull's step, with its expect: failure is the step's
// failure, own the op's own error. When the pull's own device wrote a row, during holds it
// as the device then had it (nil when deleted).
func (r *runner) playWhile(d *device, st *Step) (failure, own error, during map[string]map[string]any) {
	w := st.While
	mark := r.mark()
	if w.Actor == "server" {
		err := r.serverWrite(w.Op.Op, w.Op.Table, w.Op.Item, w.Op.ID)
		if err != nil {
			err = actorError(err)
		}
		return whileFailure(r.expectError(w, err)), r.lastErr, nil
	}
	failure = r.clientOp(r.devices[w.Actor], w)
	own = r.lastErr
	if failure == nil {
		failure = r.expectRequests(w, mark, w.Actor)
	}
	if w.Actor == d.spec.Name && own == nil && (w.Op.Op == "insert" || w.Op.Op == "update" || w.Op.Op == "delete") {
		id := w.Op.ID
		if id == "" {
			id, _ = w.Op.Item["id"].(string)
		}
		row, err := d.dev.Lookup(r.ctx, w.Op.Table, id)
		switch {
		case drivers.KindOf(err) == drivers.KindNotFound:
			during = map[string]map[string]any{id: nil}
		case err == nil:
			during = map[string]map[string]any{id: row}
		}
	}
	return whileFailure(failure), own, during
}

// whileFailure names the other op in a failure of its expectations.
func whileFailure(err error) error {
	if se := (*stepError)(nil); errors.As(err, &se) && se.property == "" {
		return &stepError{expectation: "while: " + se.expectation, got: se.got}
	}
	return err
}

// expectRequests judges a step's expect requests against who's requests since mark ("" every
// client's).
func (r *runner) expectRequests(st *Step, mark int, who string) error {
	ex := st.Expect
	if ex == nil || !ex.HasRequests || r.lenient {
		return nil
	}
	got := requestLines(r.requests(mark, who))
	if !matchRequests(ex.Requests, got) {
		return fail("requests "+strings.Join(ex.Requests, ", "), "%s", orNone(got))
	}
	return nil
}
