// Package odata holds the one OData v3 $filter / $orderby grammar conflictlab speaks: a parser
// into a small AST, an evaluator over JSON-like rows, and a printer whose output parses back to
// the same tree. The fake server uses it to answer queries and the sync client uses it to read
// its local store, so both sides agree on what a filter means.
package odata
