package fakeserver

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// randomBody makes JSON-ish text: mostly flat objects with tricky strings, escapes and numbers,
// sometimes broken by a random edit.
func randomBody(r *rand.Rand) string {
	strs := []string{`""`, `"a"`, `"é世"`, `"\""`, `"\\"`, `"\/"`, `"\b\f\n\r\t"`, `"\u0041"`, `"\u00e9"`, `"\uD83D\uDE00"`,
		`"\ud800"`, `"\udc00"`, `"\ud800\u0041"`, `"\ud800x"`, `"\uD800\uD800"`, `"\u12"`, `"\x"`, "\"a\x01\"", `"K"`}
	vals := append([]string{`0`, `-0`, `1.5`, `-1e-7`, `1E+300`, `01`, `1.`, `.5`, `-`, `1e`, `true`, `false`, `null`,
		`nul`, `[1]`, `{}`, `{"a":1}`, `tru`}, strs...)
	var b strings.Builder
	b.WriteString([]string{"", " ", "\n\t"}[r.IntN(3)] + "{")
	n := r.IntN(5)
	for i := range n {
		if i > 0 {
			b.WriteString([]string{",", " , ", ",\n"}[r.IntN(3)])
		}
		b.WriteString(strs[r.IntN(len(strs))] + []string{":", " : "}[r.IntN(2)] + vals[r.IntN(len(vals))])
	}
	b.WriteString("}" + []string{"", " ", "x", "{}", ","}[r.IntN(5)])
	s := b.String()
	if r.IntN(4) == 0 && len(s) > 0 {
		i := r.IntN(len(s))
		s = s[:i] + []string{"", `"`, `\`, ",", "}", "{", " ", "\\u"}[r.IntN(8)] + s[i+1:]
	}
	return s
}

// TestFlatParserAgreesWithDecodeObject: whatever the fast parser accepts, the token decoder
// accepts with the same result; whatever it refuses as a lone surrogate, the token decoder
// accepts only by replacing the surrogate, which hasLoneSurrogate catches.
func TestFlatParserAgreesWithDecodeObject(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 17))
	accepted := 0
	for i := range 200_000 {
		raw := []byte(randomBody(r))
		if !utf8.Valid(raw) {
			continue
		}
		fast, ferr := parseFlatObject(raw)
		slow, serr := decodeObject(raw)
		switch {
		case ferr == nil && (serr != nil || !reflect.DeepEqual(fast, slow)):
			t.Fatalf("iteration %d: %s: fast %#v, slow %#v (%v)", i, raw, fast, slow, serr)
		case ferr == nil:
			accepted++
			if hasLoneSurrogate(raw) {
				t.Fatalf("iteration %d: %s: accepted, yet hasLoneSurrogate", i, raw)
			}
		case ferr == errLoneSurrogate && serr == nil && !hasLoneSurrogate(raw):
			t.Fatalf("iteration %d: %s: the fast parser saw a lone surrogate that hasLoneSurrogate misses", i, raw)
		case ferr == errNotFlat && serr == nil && hasLoneSurrogate(raw) != strings.Contains(decodeBodyMessage(raw), "surrogate"):
			t.Fatalf("iteration %d: %s: decodeBody disagrees with hasLoneSurrogate", i, raw)
		}
	}
	if accepted < 10_000 {
		t.Fatalf("only %d bodies took the fast path: the generator tests too little", accepted)
	}
}

func decodeBodyMessage(raw []byte) string {
	if _, err := decodeBody(raw); err != nil {
		return err.Message
	}
	return ""
}

func TestLoneSurrogatesAreRefused(t *testing.T) {
	for _, body := range []string{`{"text":"a\ud800b"}`, `{"text":"\udc00"}`, `{"t\ud800":1}`, `{"a":"\uD800\u0041"}`,
		`{"a":["\ud800"]}`, `{"a":"\ud800","b":{}}`} {
		_, err := decodeBody([]byte(body))
		if err == nil || !strings.Contains(err.Message, "not valid UTF-8") {
			t.Errorf("%s: got %v, want it refused as invalid UTF-8", body, err)
		}
	}
	if obj, err := decodeBody([]byte(`{"a":"\uD83D\uDE00"}`)); err != nil || obj["a"] != "😀" {
		t.Errorf("a surrogate pair: got %v, %v", obj, err)
	}
}
