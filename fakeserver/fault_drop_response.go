package fakeserver

var dropResponseAction = &action{
	name:    "drop-response",
	summary: "apply the request, then close the connection without the answer",
	params:  func() any { return &noParams{} },
	check:   noCheck,
	build:   func(any) behaviour { return dropResponse{} },
}

// dropResponse is the outcome a client cannot know: its write happened, and it saw only a
// network error. On its next push it meets its own write as a 409 or 412.
type dropResponse struct{}

func (dropResponse) respond(c *call, _ *answer) bool {
	c.noAnswer("the answer was dropped after the request was applied")
	hangUp(c.w, false)
	return true
}
