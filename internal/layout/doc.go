// Package layout holds the tests of the repository's layout (layout_test.go): the
// top-level folders import one another one way only, and a shipped binary carries none of
// the deliberate bugs of internal/mutants. It has no code of its own.
package layout
