package fakeserver

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"
)

// encodingJSON is what writeJSON puts on the wire for v: encoding/json, HTML unescaped.
func encodingJSON(t *testing.T, v any) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// randomText mixes what string encoding must get right: ASCII, quotes, backslashes, every
// control character, HTML characters, multi-byte runes, U+2028/2029 and invalid UTF-8.
func randomText(r *rand.Rand) string {
	pieces := []string{"a", "Z", " ", `"`, `\`, "<", ">", "&", "é", "世", "😀", "\u2028", "\u2029", "\xff", "\xe4\xb8", "\x7f", "\ufffd", "K"}
	var b []byte
	for range r.IntN(12) {
		if r.IntN(4) == 0 {
			b = append(b, byte(r.IntN(0x20)))
		} else {
			b = append(b, pieces[r.IntN(len(pieces))]...)
		}
	}
	return string(b)
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 100_000 {
		s := randomText(r)
		want := bytes.TrimSuffix(encodingJSON(t, s), []byte("\n"))
		if got := appendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("iteration %d: %q encodes as %s, encoding/json gives %s", i, s, got, want)
		}
	}
}

// TestAppendRowMatchesRender: the bytes written for a row are those encoding/json writes for
// render's map, in both dialects, with and without system properties and $select.
func TestAppendRowMatchesRender(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"text", "Text", "n", "complete", "version", "Version", "updatedAt", "__x", "K", "é", "<b>"}
	for i := range 20_000 {
		rec := &record{id: randomText(r), version: r.Uint64(), data: map[string]any{},
			createdAt: time.UnixMilli(r.Int64N(1 << 42)).UTC(), updatedAt: time.UnixMilli(r.Int64N(1 << 42)).UTC(),
			deleted: r.IntN(2) == 0}
		for range r.IntN(6) {
			var v any
			switch r.IntN(5) {
			case 1:
				v = r.IntN(2) == 0
			case 2:
				v = randomText(r)
			case 3:
				v = json.Number([]string{"0", "-1.5", "1e300", "123456789012345678901234567890"}[r.IntN(4)])
			}
			rec.data[names[r.IntN(len(names))]] = v
		}
		d := []Dialect{V1, V2}[r.IntN(2)]
		var sys sysProps
		if r.IntN(2) == 0 {
			sys = sysProps{systemColumns[r.IntN(len(systemColumns))]: true}
		}
		var sel map[string]bool
		if r.IntN(3) == 0 {
			sel = map[string]bool{"text": true, "__version": true, "k": true, "n": r.IntN(2) == 0}
		}
		want := encodingJSON(t, rec.render(d, sys, sel))
		if r.IntN(2) == 0 {
			rec.json = &rowJSON{} // as stored: the second rendering may come from the cache
		}
		for range 2 {
			got := append(appendRow(nil, rec, d, sys, sel), '\n')
			if !bytes.Equal(got, want) {
				t.Fatalf("iteration %d (%s, sys %v, sel %v):\ngot  %s\nwant %s", i, d, sys, sel, got, want)
			}
		}
	}
}
