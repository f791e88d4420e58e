package scenarios

import (
	"github.com/conflictlab/conflictlab/check"
	"github.com/conflictlab/conflictlab/drivers"
	"github.com/conflictlab/conflictlab/fakeserver"
	"github.com/conflictlab/conflictlab/reports"
	"github.com/conflictlab/conflictlab/targets"
)

// What a property test needs of a session besides Do: to play steps without judging their
// expectations (it learns each outcome and writes it into the step), to see the clients'
// stores and the server, and to add the verdicts of its own checkers to the result.

// SetLenient makes Do skip every expect (error, status, errors, requests, item, rows); the
// properties are still judged. LastError is then the last op's own error. Do then writes the
// outcome of a step's while into the while's expect (ExpectOutcome), as the caller does for the
// step's own, so that the step replays the same way even when the session failed at it.
func (s *Session) SetLenient(on bool) { s.r.lenient = on }

// LastError is the error of the last client op (or server write) Do played.
func (s *Session) LastError() error { return s.r.lastErr }

// LastWhileError is the own error of the other op of the last step when it had a while
// (played while its pull waited, or after it).
func (s *Session) LastWhileError() error { return s.r.whileErr }

// Target is the server of the session's run: the embedded one, a conflictlab server, or a
// proxy in front of another; nil before a setup that failed or was skipped.
func (s *Session) Target() targets.Server { return s.r.server }

// Device is a client's device (a new one after each restart).
func (s *Session) Device(name string) drivers.Device { return s.r.devices[name].dev }

// Tables lists the tables a client has written to or pulled.
func (s *Session) Tables(name string) []string {
	d := s.r.devices[name]
	out := make([]string, 0, len(d.tables))
	for _, k := range sortedNames(d.tables) {
		out = append(out, d.tables[k])
	}
	return out
}

// Mark is where the history stands; Requests and Events read what came after a mark.
func (s *Session) Mark() int { return s.r.mark() }

// Requests are one client's requests since mark ("" every client's).
func (s *Session) Requests(mark int, who string) []check.Request { return s.r.requests(mark, who) }

// Events are the history since mark.
func (s *Session) Events(mark int) []fakeserver.Event { return s.r.events(mark) }

// Judge adds the finding of a caller's own checker to the result; a violation fails the
// session at st (the step it was judged after; nil for none) as Do's failures do.
func (s *Session) Judge(st *Step, mark int, f check.Finding) *reports.Failure {
	if s.res.Status == reports.Failed {
		return s.res.Failure
	}
	if err := s.r.property(f); err != nil {
		s.res.Status = reports.Failed
		s.res.Failure = s.r.failure(st, mark, err)
		return s.res.Failure
	}
	return nil
}

// PropertyCounts are the verdicts of every check of the session so far, per property.
func (s *Session) PropertyCounts() []reports.PropertyCount { return s.r.tally.Counts() }

// Failure is the session's failure so far, nil while it passes.
func (s *Session) Failure() *reports.Failure { return s.res.Failure }
