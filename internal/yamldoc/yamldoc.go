// Package yamldoc reads one YAML document into a node tree that a loader can walk field by
// field, keeping positions, without knowing YAML's shorthands: every alias is replaced by the
// node it names and every merge key (<<) is expanded, so a loader that checks each node's kind
// sees what a YAML decoder would see. A syntax error carries the best position the yaml
// package gives.
package yamldoc

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Error is a document that cannot be read: where (Line and Column count from 1; 0 means the
// yaml package did not say), and what is wrong.
type Error struct {
	Line, Column int
	Message      string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%d:%d: %s", e.Line, e.Column, e.Message)
	case e.Line > 0:
		return fmt.Sprintf("%d: %s", e.Line, e.Message)
	}
	return e.Message
}

// Parse reads the first document of data. It returns nil for a document with no content. The
// tree it returns holds no alias nodes and no merge keys; an alias becomes a copy of the node
// it names, placed where the alias is, whose children are those of the named node (shared, not
// copied: the tree grows with the text, not with the aliases).
func Parse(data []byte) (*yaml.Node, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, syntaxError(data, err)
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	r := &resolver{state: map[*yaml.Node]int{}}
	return r.resolve(doc.Content[0])
}

const (
	inProgress = 1
	resolved   = 2
)

type resolver struct {
	// state marks the nodes being resolved (an alias to one of these names its own ancestor)
	// and those done, so a node shared by many aliases is resolved once.
	state map[*yaml.Node]int
}

func (r *resolver) resolve(n *yaml.Node) (*yaml.Node, error) {
	if n.Kind == yaml.AliasNode {
		if n.Alias == nil {
			return nil, &Error{Line: n.Line, Column: n.Column, Message: fmt.Sprintf("unknown anchor %q", n.Value)}
		}
		if r.state[n.Alias] == inProgress {
			return nil, &Error{Line: n.Line, Column: n.Column,
				Message: fmt.Sprintf("the alias *%s is inside the value it names (anchor &%s on line %d)", n.Value, n.Value, n.Alias.Line)}
		}
		target, err := r.resolve(n.Alias)
		if err != nil {
			return nil, err
		}
		c := *target
		c.Line, c.Column = n.Line, n.Column
		c.Anchor = ""
		return &c, nil
	}
	switch r.state[n] {
	case inProgress, resolved:
		return n, nil
	}
	r.state[n] = inProgress
	for i, c := range n.Content {
		rc, err := r.resolve(c)
		if err != nil {
			return nil, err
		}
		n.Content[i] = rc
	}
	if n.Kind == yaml.MappingNode {
		if err := merge(n); err != nil {
			return nil, err
		}
	}
	r.state[n] = resolved
	return n, nil
}

// isMerge reports whether k is the merge key, as the yaml package recognises it.
func isMerge(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && (k.Tag == "" || k.Tag == "!" || k.Tag == "!!merge")
}

// merge expands the merge key of mapping m (its children already resolved) as the yaml package
// decodes it: the keys written in m win over merged ones, and of a list of merged mappings the
// earlier wins. The merged pairs follow m's own, in the order they are merged.
func merge(m *yaml.Node) error {
	var with *yaml.Node
	var own []*yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if !isMerge(k) {
			own = append(own, k, v)
			continue
		}
		if with != nil {
			return &Error{Line: k.Line, Column: k.Column, Message: "<< is given twice in one mapping: merge a list instead (<<: [*a, *b])"}
		}
		with = v
	}
	if with == nil {
		return nil
	}
	sources := []*yaml.Node{with}
	if with.Kind == yaml.SequenceNode {
		sources = with.Content
	}
	seen := map[string]bool{}
	for i := 0; i < len(own); i += 2 {
		seen[own[i].Value] = true
	}
	out := own
	for _, s := range sources {
		if s.Kind != yaml.MappingNode {
			return &Error{Line: s.Line, Column: s.Column, Message: "<< merges a mapping or a list of mappings (<<: *a, or <<: [*a, *b])"}
		}
		for i := 0; i+1 < len(s.Content); i += 2 {
			if k := s.Content[i]; !seen[k.Value] {
				seen[k.Value] = true
				out = append(out, k, s.Content[i+1])
			}
		}
	}
	m.Content = out
	return nil
}

// parserProblems are the messages of the yaml package's parser (as opposed to its scanner).
// For these it names the line counting from 0 (the start of the construct it was parsing, or
// else the place of the problem), so the line it prints is one before the one meant.
var parserProblems = []string{"did not find expected", "found duplicate %", "found incompatible YAML document", "found undefined tag handle"}

var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// syntaxError turns the yaml package's error into an *Error with the best position it offers.
// The yaml package prints a line and no column; a parser error names the line where the
// construct it could not finish starts (a {…} or […] that is not closed, a mapping whose next
// key is not where it should be), a scanner error the line of the problem. Where the message
// names something that can be found in the text (an unknown anchor, a character the reader
// refuses), the position is found exactly.
func syntaxError(data []byte, err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	e := &Error{Message: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, tail, ok := strings.Cut(rest, ":"); ok {
			if line, perr := strconv.Atoi(num); perr == nil {
				e.Line, e.Message = line, strings.TrimSpace(tail)
			}
		}
	}
	for _, p := range parserProblems {
		if strings.HasPrefix(e.Message, p) {
			// Counted from 0; no line at all means line 0.
			e.Line++
			break
		}
	}
	if m := unknownAnchor.FindStringSubmatch(e.Message); m != nil {
		e.Message = fmt.Sprintf("unknown anchor %q: no &%s before this alias", m[1], m[1])
		if e.Line, e.Column = findAlias(data, m[1]); e.Line == 0 {
			return e
		}
	}
	if e.Line == 0 {
		if line, col, ok := badCharacter(data); ok {
			// The reader refused a character; it says neither where nor which.
			e.Line, e.Column = line, col
		} else {
			// A scanner error on the first line: the yaml package prints no line for line 0.
			e.Line = 1
		}
	}
	return e
}

// findAlias finds the first alias *name in data that stands where a node can start (after a
// space, a line start or a flow indicator) and ends where a name must end.
func findAlias(data []byte, name string) (line, col int) {
	text := string(data)
	for from := 0; ; {
		i := strings.Index(text[from:], "*"+name)
		if i < 0 {
			return 0, 0
		}
		i += from
		end := i + 1 + len(name)
		startOK := i == 0 || strings.ContainsRune(" \t\n\r[{,:-?", rune(text[i-1]))
		endOK := end == len(text) || strings.ContainsRune(" \t\n\r]},", rune(text[end]))
		if startOK && endOK {
			return position(text, i)
		}
		from = i + 1
	}
}

// badCharacter finds the first byte the yaml package's reader refuses: invalid UTF-8, or a
// character YAML does not allow in a document.
func badCharacter(data []byte) (line, col int, ok bool) {
	text := string(data)
	for i, r := range text {
		if r == utf8.RuneError {
			if _, size := utf8.DecodeRuneInString(text[i:]); size == 1 {
				l, c := position(text, i)
				return l, c, true
			}
		}
		if !printable(r) {
			l, c := position(text, i)
			return l, c, true
		}
	}
	return 0, 0, false
}

// printable is YAML 1.2's c-printable, as the yaml package's reader checks it.
func printable(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\r', r == 0x85,
		r >= 0x20 && r <= 0x7E,
		r >= 0xA0 && r <= 0xD7FF,
		r >= 0xE000 && r <= 0xFFFD,
		r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// position gives the line and column (from 1, counting characters) of byte offset i.
func position(text string, i int) (line, col int) {
	before := text[:i]
	line = strings.Count(before, "\n") + 1
	start := strings.LastIndexByte(before, '\n') + 1
	return line, utf8.RuneCountInString(before[start:]) + 1
}
