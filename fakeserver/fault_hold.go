package fakeserver

import (
	"bytes"
	"io"
	"time"
)

type holdParams struct {
	Ms int `json:"ms"`
}

// defaultHoldMs is how long a hold waits at most when its rule says nothing: long enough for
// any step played meanwhile, short enough that a forgotten hold does not stall a run.
const defaultHoldMs = 10_000

var holdAction = &action{
	name: "hold",
	summary: "hold the request before it is served until the rule is healed or ms passes (default 10000; never forever), " +
		"then serve it; the rules after it still act",
	params: func() any { return &holdParams{Ms: defaultHoldMs} },
	check: func(p any) *RuleError {
		if ms := p.(*holdParams).Ms; ms < 1 || ms > maxFaultMs {
			return ruleErr("ms", "must be between 1 and %d (an hour): a hold never lasts for ever, got %d", maxFaultMs, ms)
		}
		return nil
	},
	build: func(p any) behaviour { return &holdFault{*p.(*holdParams)} },
}

// holdFault keeps a request waiting before the table handler sees it, so that something else
// (another client's request, a direct write, a client's local write) happens while it waits:
// the request is then served as it would have been at that later moment. Unlike latency, the
// answer is made after the wait, and unlike timeout, the request is served.
type holdFault struct{ holdParams }

// hold waits until the rule is healed or ms passes, and reports whether to go on serving the
// request. A client that gives up meanwhile gets nothing: the request is not served and the
// history records it unanswered.
func (f *holdFault) hold(c *call) bool {
	// net/http watches for the client hanging up only once the body has been read: read it
	// (within the limit) and put it back for the handler.
	raw, err := io.ReadAll(io.LimitReader(c.r.Body, c.srv.cfg.MaxBodyBytes+1))
	c.r.Body = io.NopCloser(io.MultiReader(bytes.NewReader(raw), c.r.Body))
	if err != nil {
		c.noAnswer("the request's body could not be read while it was held")
		hangUp(c.w, false)
		return false
	}
	t := time.NewTimer(time.Duration(f.Ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-c.rule.healed:
	case <-t.C:
	case <-c.r.Context().Done():
		c.noAnswer("held until the client gave up")
		hangUp(c.w, false)
		return false
	}
	return true
}
