package fakeserver

import "time"

type latencyParams struct {
	Ms       int `json:"ms"`
	JitterMs int `json:"jitterMs"`
}

var latencyAction = &action{
	name:    "latency",
	summary: "answer after ms (default 100) plus a seeded random 0..jitterMs; the request is applied",
	params:  func() any { return &latencyParams{Ms: 100} },
	check: func(p any) *RuleError {
		lp := p.(*latencyParams)
		if err := checkMs("ms", lp.Ms); err != nil {
			return err
		}
		return checkMs("jitterMs", lp.JitterMs)
	},
	build: func(p any) behaviour { return &latency{*p.(*latencyParams)} },
}

// maxFaultMs bounds every duration a rule gives: an hour is longer than any test waits.
const maxFaultMs = 3600 * 1000

func checkMs(field string, ms int) *RuleError {
	if ms < 0 || ms > maxFaultMs {
		return ruleErr(field, "must be between 0 and %d (an hour), got %d", maxFaultMs, ms)
	}
	return nil
}

type latency struct{ latencyParams }

// respond holds the answer back. The request has been applied; a client that gives up
// meanwhile gets nothing, and healing the rule sends the answer at once.
func (l *latency) respond(c *call, _ *answer) bool {
	d := time.Duration(l.Ms) * time.Millisecond
	if l.JitterMs > 0 {
		d += time.Duration(c.srv.faults.intn(l.JitterMs+1)) * time.Millisecond
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.rule.healed:
	case <-c.r.Context().Done(): // the client is gone: stop waiting; the answer goes nowhere
	}
	return false
}
