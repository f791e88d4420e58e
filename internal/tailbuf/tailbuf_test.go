package tailbuf_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/conflictlab/conflictlab/internal/tailbuf"
)

func TestKeepsTheEnd(t *testing.T) {
	b := &tailbuf.Buffer{Max: 10}
	for i := range 5 {
		fmt.Fprintf(b, "line %d\n", i)
	}
	if got := b.String(); got != "3\nline 4" {
		t.Fatalf("kept %q", got)
	}
	if n, _ := b.Write([]byte(strings.Repeat("x", 25))); n != 25 {
		t.Fatalf("wrote %d of 25", n)
	}
	if got := b.String(); got != strings.Repeat("x", 10) {
		t.Fatalf("kept %q", got)
	}
}
