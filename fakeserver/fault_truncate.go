package fakeserver

import "bytes"

type truncateParams struct {
	// Bytes is how much of the body to send; -1 (the default) sends half.
	Bytes int `json:"bytes"`
}

var truncateAction = &action{
	name:    "truncate",
	summary: "apply the request, then send the real status with the JSON body cut short (bytes, default half)",
	params:  func() any { return &truncateParams{Bytes: -1} },
	check: func(p any) *RuleError {
		if n := p.(*truncateParams).Bytes; n < -1 {
			return ruleErr("bytes", "must be 0 or more (or -1 for half the body), got %d", n)
		}
		return nil
	},
	build: func(p any) behaviour { return &truncateFault{*p.(*truncateParams)} },
}

type truncateFault struct{ truncateParams }

// respond sends a well-framed answer (its Content-Length is the cut length) whose JSON ends
// early: the client reads it all and cannot decode it. An answer without a body is sent
// whole; there is nothing to cut.
func (f *truncateFault) respond(c *call, ans *answer) bool {
	body := bytes.TrimRight(ans.body.Bytes(), "\n")
	if len(body) == 0 {
		return false
	}
	n := f.Bytes
	if n < 0 {
		n = len(body) / 2
	}
	n = min(n, len(body)-1)
	ans.deliver(c.w, body[:n])
	return true
}
