package fakeserver

type noParams struct{}

func noCheck(any) *RuleError { return nil }

var resetAction = &action{
	name:    "reset",
	summary: "read the request, then reset the connection with no answer; nothing is applied",
	params:  func() any { return &noParams{} },
	check:   noCheck,
	build:   func(any) behaviour { return resetFault{} },
}

type resetFault struct{}

func (resetFault) answer(c *call) {
	c.srv.drainBody(c.r)
	c.noAnswer("connection reset")
	hangUp(c.w, true)
}
