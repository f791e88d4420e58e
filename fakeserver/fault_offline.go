package fakeserver

var offlineAction = &action{
	name:    "offline",
	summary: "a partition: reset every matching request, with nothing applied, until the rule is healed",
	params:  func() any { return &noParams{} },
	check:   noCheck,
	build:   func(any) behaviour { return offlineFault{} },
}

// offlineFault answers like reset; it is its own action because it models a state (a device
// or a network that is down until healed), and scenarios and reports name it so.
type offlineFault struct{}

func (offlineFault) answer(c *call) {
	c.srv.drainBody(c.r)
	c.noAnswer("offline")
	hangUp(c.w, true)
}
