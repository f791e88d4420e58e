package client

import "strings"

// Item is one row: a JSON object with a dynamic schema, like the SDKs' NSDictionary.
type Item = map[string]any

// Dialect is the wire protocol a Client speaks (see docs/protocol.md).
type Dialect int

const (
	// V2 is Azure Mobile Apps: ZUMO-API-VERSION 2.0.0 and plain system column names.
	V2 Dialect = iota
	// V1 is Azure Mobile Services (2014): "__"-prefixed system columns and __systemproperties.
	V1
)

func (d Dialect) String() string {
	if d == V1 {
		return "v1"
	}
	return "v2"
}

// The system columns by their v2 names.
const (
	ColumnID        = "id"
	ColumnVersion   = "version"
	ColumnCreatedAt = "createdAt"
	ColumnUpdatedAt = "updatedAt"
	ColumnDeleted   = "deleted"
)

// Column returns the name dialect d gives the system column named col in v2.
func (d Dialect) Column(col string) string {
	if d == V1 && col != ColumnID {
		return "__" + col
	}
	return col
}

// isServerOwned reports whether name is a system column only the server may set (createdAt,
// updatedAt, deleted) under either dialect's spelling. Local writes strip these.
func isServerOwned(name string) bool {
	n := strings.TrimPrefix(strings.ToLower(name), "__")
	return n == "createdat" || n == "updatedat" || n == "deleted"
}

// isSystemColumn reports whether name is version, createdAt, updatedAt or deleted in either
// dialect's spelling.
func isSystemColumn(name string) bool {
	return isServerOwned(name) || strings.TrimPrefix(strings.ToLower(name), "__") == "version"
}

// lookup returns item's value under name, matched exactly and then ASCII case-insensitively.
func lookup(item Item, name string) (any, bool) {
	if v, ok := item[name]; ok {
		return v, true
	}
	for k, v := range item {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return nil, false
}

// itemID returns item's id when it is a non-empty string.
func itemID(item Item) (string, bool) {
	v, _ := lookup(item, ColumnID)
	s, ok := v.(string)
	return s, ok && s != ""
}

// versionOf returns the item's version under dialect d's column name ("" when it has none or
// it is not a string).
func versionOf(d Dialect, item Item) string {
	if v, ok := lookup(item, d.Column(ColumnVersion)); ok {
		if s, ok := v.(string); ok {
			return s
		}
	}
	return ""
}

// copyItem returns a shallow copy: values in items are scalars or are never mutated.
func copyItem(item Item) Item {
	if item == nil {
		return nil
	}
	out := make(Item, len(item))
	for k, v := range item {
		out[k] = v
	}
	return out
}
