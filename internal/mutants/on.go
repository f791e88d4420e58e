//go:build mutants

package mutants

import (
	"fmt"
	"sync/atomic"
)

var active atomic.Pointer[Mutant]

// On reports whether m is the mutant in force.
func On(m Mutant) bool {
	p := active.Load()
	return p != nil && *p == m
}

// Enable puts m in force for the whole process until the returned function restores the
// correct code. One mutant at a time: enabling a second while one is on panics, since two
// tests breaking rules at once would prove nothing.
func Enable(m Mutant) (restore func()) {
	if !active.CompareAndSwap(nil, &m) {
		panic(fmt.Sprintf("mutants: %s is already on", *active.Load()))
	}
	return func() { active.Store(nil) }
}
