package fakeserver

import (
	"fmt"
	"net/http"
)

type statusParams struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

var statusAction = &action{
	name:    "status",
	summary: "answer status code (default 500) with a JSON error and do nothing",
	params:  func() any { return &statusParams{Code: http.StatusInternalServerError} },
	check: func(p any) *RuleError {
		if code := p.(*statusParams).Code; code < 400 || code > 599 {
			return ruleErr("code", "must be an error status, 400 to 599, got %d", code)
		}
		return nil
	},
	build: func(p any) behaviour { return &statusFault{*p.(*statusParams)} },
}

type statusFault struct{ statusParams }

func (f *statusFault) answer(c *call) {
	msg := f.Message
	if msg == "" {
		msg = fmt.Sprintf("%d %s (fault %s)", f.Code, http.StatusText(f.Code), c.rule.ID)
	}
	c.srv.writeError(c.w, c.r, &Error{Status: f.Code, Message: msg})
}
