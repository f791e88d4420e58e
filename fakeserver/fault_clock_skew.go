package fakeserver

import "time"

type clockSkewParams struct {
	Ms int `json:"ms"`
}

var clockSkewAction = &action{
	name:    "clock-skew",
	summary: "stamp matching writes with updatedAt shifted by ms (negative goes back in time)",
	params:  func() any { return &clockSkewParams{} },
	check: func(p any) *RuleError {
		ms := p.(*clockSkewParams).Ms
		if ms == 0 {
			return ruleErr("ms", "missing: the shift in milliseconds, not 0")
		}
		if ms < -maxFaultMs*24*365 || ms > maxFaultMs*24*365 {
			return ruleErr("ms", "must be within a year either way, got %d", ms)
		}
		return nil
	},
	build: func(p any) behaviour { return &clockSkew{time.Duration(p.(*clockSkewParams).Ms) * time.Millisecond} },
}

type clockSkew struct{ by time.Duration }

func (s *clockSkew) stamp(t time.Time) time.Time { return t.Add(s.by) }
