//go:build mutants

package main

import (
	"fmt"
	"slices"

	"github.com/spf13/pflag"

	"github.com/conflictlab/conflictlab/internal/mutants"
)

// mutant is the deliberate bug --mutant puts in force, in a build with the tag "mutants"
// (go build -tags mutants ./cmd/conflictlab): what scripts/mutant-table runs a campaign
// against, to measure how long conflictlab fuzz takes to find each.
var mutant string

func addMutantFlag(f *pflag.FlagSet) {
	f.StringVar(&mutant, "mutant", "", "put this deliberate bug of internal/mutants in force (builds with -tags mutants only)")
}

func enableMutant() (restore func(), err error) {
	if mutant == "" {
		return func() {}, nil
	}
	m := mutants.Mutant(mutant)
	if !slices.Contains(mutants.All, m) {
		return nil, fmt.Errorf("--mutant %q: no such mutant (internal/mutants.All)", mutant)
	}
	return mutants.Enable(m), nil
}
