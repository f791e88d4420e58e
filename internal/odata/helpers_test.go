package odata_test

import (
	"time"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// Short builders for expected trees.
func p(name string) odata.Expr { return odata.Property{Name: name} }
func l(v any) odata.Expr       { return odata.Literal{Value: v} }
func bin(op string, a, b odata.Expr) odata.Expr {
	return odata.Binary{Op: op, Left: a, Right: b}
}
func un(op string, x odata.Expr) odata.Expr { return odata.Unary{Op: op, X: x} }
func call(name string, args ...odata.Expr) odata.Expr {
	return odata.Call{Name: name, Args: args}
}

// utc is a UTC instant with millisecond precision.
func utc(y int, mo time.Month, d, h, mi, s, ms int) time.Time {
	return time.Date(y, mo, d, h, mi, s, ms*int(time.Millisecond), time.UTC)
}

// The filters the Azure SDKs send for an incremental pull (v2 and v1).
const (
	incrementalV2 = `(updatedAt ge datetimeoffset'2014-06-09T23:40:04.297Z')`
	incrementalV1 = `((complete eq false) and (__updatedAt ge datetimeoffset'2014-06-09T23:40:04.297Z'))`
)

var token = utc(2014, time.June, 9, 23, 40, 4, 297)
