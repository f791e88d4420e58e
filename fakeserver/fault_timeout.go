package fakeserver

import "time"

type timeoutParams struct {
	Ms int `json:"ms"`
}

var timeoutAction = &action{
	name:    "timeout",
	summary: "hold the request unanswered until the client gives up, the rule is healed, or ms passes (0: no limit); nothing is applied",
	params:  func() any { return &timeoutParams{} },
	check:   func(p any) *RuleError { return checkMs("ms", p.(*timeoutParams).Ms) },
	build:   func(p any) behaviour { return &timeoutFault{*p.(*timeoutParams)} },
}

type timeoutFault struct{ timeoutParams }

func (f *timeoutFault) answer(c *call) {
	// Read the body first: only then does net/http watch for the client hanging up.
	c.srv.drainBody(c.r)
	var limit <-chan time.Time
	if f.Ms > 0 {
		t := time.NewTimer(time.Duration(f.Ms) * time.Millisecond)
		defer t.Stop()
		limit = t.C
	}
	select {
	case <-c.r.Context().Done():
		c.noAnswer("held until the client gave up")
	case <-c.rule.healed:
		c.noAnswer("held until the fault was healed")
	case <-limit:
		c.noAnswer("held for the rule's ms")
	}
	hangUp(c.w, false)
}
