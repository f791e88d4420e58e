package fakeserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A rule decodes the same way from JSON and from YAML: the document becomes plain values
// (maps, lists, strings, numbers), ruleFromMap checks their shape field by field, and compile
// checks what they mean. Every refusal is a *RuleError naming the field; from YAML it also
// carries the line and column.

// UnmarshalJSON decodes and validates a rule: the result is canonical (see Rule.Validate).
func (r *Rule) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return &RuleError{Message: "a rule must be a JSON object: " + err.Error()}
	}
	rule, err := ruleFromValue(raw)
	if err != nil {
		return err
	}
	*r = rule
	return nil
}

// UnmarshalYAML decodes and validates a rule from a YAML node; errors carry its position.
func (r *Rule) UnmarshalYAML(node *yaml.Node) error {
	var raw any
	if err := node.Decode(&raw); err != nil {
		return &RuleError{Line: node.Line, Column: node.Column, Message: err.Error()}
	}
	rule, err := ruleFromValue(raw)
	if err != nil {
		locate(err, node)
		return err
	}
	*r = rule
	return nil
}

// ParseRules reads a fault file: one rule, a list of rules, or {faults: [rules]}, in YAML or
// JSON (which is YAML). An empty document holds no rules.
func ParseRules(data []byte) ([]Rule, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlSyntaxError(err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, nil
	}
	node := doc.Content[0]
	if node.Kind == yaml.MappingNode {
		if v := mappingValue(node, "faults"); v != nil {
			if len(node.Content) > 2 {
				return nil, &RuleError{Line: node.Line, Column: node.Column, Message: "a fault file with a faults: list holds nothing else"}
			}
			node = v
		}
	}
	items := []*yaml.Node{node}
	if node.Kind == yaml.SequenceNode {
		items = node.Content
	}
	rules := make([]Rule, 0, len(items))
	ids := map[string]bool{}
	for i, item := range items {
		var r Rule
		err := item.Decode(&r)
		if err == nil && r.ID != "" && ids[r.ID] {
			re := ruleErr("id", "%q names two rules", r.ID)
			locate(re, item)
			err = re
		}
		if err != nil {
			var re *RuleError
			if node.Kind == yaml.SequenceNode && errors.As(err, &re) {
				re.Field = strings.TrimSuffix(fmt.Sprintf("[%d].%s", i, re.Field), ".")
			}
			return nil, err
		}
		ids[r.ID] = true
		rules = append(rules, r)
	}
	return rules, nil
}

// yamlSyntaxError turns the yaml package's "yaml: line N: …" into a positioned RuleError.
func yamlSyntaxError(err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &RuleError{Message: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, tail, ok := strings.Cut(rest, ":"); ok {
			if line, perr := strconv.Atoi(n); perr == nil {
				e.Line, e.Column, e.Message = line, 1, strings.TrimSpace(tail)
			}
		}
	}
	return e
}

var ruleFields = []string{"id", "match", "action", "params"}
var matchFields = []string{"method", "op", "table", "id", "client", "after", "times", "probability"}

// ruleFromValue checks the shape of a decoded rule and compiles it.
func ruleFromValue(raw any) (Rule, *RuleError) {
	var r Rule
	m, ok := raw.(map[string]any)
	if !ok {
		return r, ruleErr("", "a rule must be an object with %s, got %s", strings.Join(ruleFields, ", "), describe(raw))
	}
	for _, k := range sortedKeys(m) {
		v := m[k]
		var err *RuleError
		switch k {
		case "id":
			r.ID, err = str("id", v)
		case "action":
			r.Action, err = str("action", v)
		case "params":
			if v == nil {
				continue
			}
			p, ok := v.(map[string]any)
			if !ok {
				return r, ruleErr("params", "want an object, got %s", describe(v))
			}
			r.Params = p
		case "match":
			r.Match, err = matchFromValue(v)
		default:
			err = ruleErr(k, "unknown field: a rule has %s", strings.Join(ruleFields, ", "))
		}
		if err != nil {
			return r, err
		}
	}
	c, _, err := r.compile()
	return c, err
}

func matchFromValue(raw any) (Match, *RuleError) {
	var m Match
	if raw == nil {
		return m, nil
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return m, ruleErr("match", "want an object, got %s", describe(raw))
	}
	var err *RuleError
	for _, k := range sortedKeys(obj) {
		v, field := obj[k], "match."+k
		switch k {
		case "method":
			m.Method, err = words(field, v)
		case "op":
			m.Op, err = words(field, v)
		case "table":
			m.Table, err = str(field, v)
		case "id":
			m.ID, err = str(field, v)
		case "client":
			m.Client, err = str(field, v)
		case "after":
			m.After, err = integer(field, v)
		case "times":
			m.Times, err = integer(field, v)
		case "probability":
			var p float64
			p, err = number(field, v)
			m.Probability = &p
		default:
			err = ruleErr(field, "unknown field: a match has %s", strings.Join(matchFields, ", "))
		}
		if err != nil {
			return m, err
		}
	}
	return m, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func str(field string, v any) (string, *RuleError) {
	s, ok := v.(string)
	if !ok {
		return "", ruleErr(field, "want a string, got %s", describe(v))
	}
	return s, nil
}

// words accepts one string or a list of them.
func words(field string, v any) ([]string, *RuleError) {
	if s, ok := v.(string); ok {
		return []string{s}, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, ruleErr(field, "want a string or a list of strings, got %s", describe(v))
	}
	out := make([]string, len(list))
	for i, item := range list {
		s, ok := item.(string)
		if !ok {
			return nil, ruleErr(fmt.Sprintf("%s[%d]", field, i), "want a string, got %s", describe(item))
		}
		out[i] = s
	}
	return out, nil
}

func number(field string, v any) (float64, *RuleError) {
	switch n := v.(type) {
	case json.Number:
		if f, err := n.Float64(); err == nil {
			return f, nil
		}
	case int:
		return float64(n), nil
	case int64:
		return float64(n), nil
	case uint64:
		return float64(n), nil
	case float64:
		return n, nil
	}
	return 0, ruleErr(field, "want a number, got %s", describe(v))
}

func integer(field string, v any) (int, *RuleError) {
	f, err := number(field, v)
	if err != nil {
		return 0, err
	}
	if f != math.Trunc(f) || math.Abs(f) > 1<<31 {
		return 0, ruleErr(field, "want a whole number, got %v", v)
	}
	return int(f), nil
}

// describe names a decoded value's type for an error message.
func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "the string " + strconv.Quote(v)
	case bool:
		return "a boolean"
	case json.Number, int, int64, uint64, float64:
		return fmt.Sprintf("the number %v", v)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// decodeParams decodes a rule's params into the action's struct p, refusing names the struct
// does not have, and returns them in canonical form: the given values as encoding/json
// decodes them (numbers as float64), or nil when there are none.
func decodeParams(params map[string]any, p any) (map[string]any, *RuleError) {
	if len(params) == 0 {
		return nil, nil
	}
	known := paramNames(p)
	for _, k := range sortedKeys(params) {
		if !slices.Contains(known, k) {
			if len(known) == 0 {
				return nil, ruleErr("params."+k, "unknown parameter: this action takes none")
			}
			return nil, ruleErr("params."+k, "unknown parameter: this action takes %s", strings.Join(known, ", "))
		}
	}
	raw, err := json.Marshal(params)
	if err != nil {
		return nil, ruleErr("params", "cannot encode: %v", err)
	}
	if err := json.Unmarshal(raw, p); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, ruleErr("params."+te.Field, "want %s, got %s", kindName(te.Type), describe(params[te.Field]))
		}
		return nil, ruleErr("params", "%v", err)
	}
	var canon map[string]any
	_ = json.Unmarshal(raw, &canon) // it was just encoded from a map
	return canon, nil
}

// paramNames lists the JSON names of an action's parameter struct.
func paramNames(p any) []string {
	t := reflect.TypeOf(p).Elem()
	var names []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			names = append(names, name)
		}
	}
	return names
}

func kindName(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Int, reflect.Int64:
		return "a whole number"
	case reflect.Float64:
		return "a number"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Map:
		return "an object"
	}
	return t.String()
}

// locate gives err the position of its field in node, the YAML mapping of a rule: the key of
// the field when it is there, else the nearest enclosing node.
func locate(err *RuleError, node *yaml.Node) {
	at, cur := node, node
	if err.Field != "" {
		for _, part := range strings.Split(err.Field, ".") {
			name, index, _ := strings.Cut(part, "[")
			if cur.Kind != yaml.MappingNode {
				break
			}
			key := mappingKey(cur, name)
			if key == nil {
				break
			}
			at = key
			val := valueOf(key, cur)
			if index != "" {
				i, _ := strconv.Atoi(strings.TrimSuffix(index, "]"))
				if val.Kind == yaml.SequenceNode && i < len(val.Content) {
					at = val.Content[i]
				}
				break
			}
			cur = val
		}
	}
	err.Line, err.Column = at.Line, at.Column
}

// mappingKey returns the key node named name in a mapping.
func mappingKey(m *yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == name {
			return m.Content[i]
		}
	}
	return nil
}

// mappingValue returns the value of key name in a mapping, or nil.
func mappingValue(m *yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == name {
			return m.Content[i+1]
		}
	}
	return nil
}

// valueOf returns the value that follows key in mapping m.
func valueOf(key, m *yaml.Node) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i] == key {
			return m.Content[i+1]
		}
	}
	return key
}
