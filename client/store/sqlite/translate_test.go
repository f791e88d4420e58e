package sqlite

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conflictlab/conflictlab/internal/odata"
)

// The translation is checked differentially: rows are stored as JSON text in an in-memory
// SQLite table, and for every filter the ids SQL selects with translate's WHERE clause are
// compared with the ids odata.Match accepts on the same rows decoded by encoding/json. An exact
// translation must select the same ids; an inexact one a superset.

// testPath is the path function of the tests: every property is stored under its own name,
// except "nopath", for which the store cannot say.
func testPath(name string) (string, bool) {
	if name == "nopath" {
		return "", false
	}
	return `$."` + name + `"`, true
}

type filterRow struct {
	id  string
	doc string
	m   map[string]any
}

// filterTable stores rows in a fresh in-memory database.
func filterTable(t testing.TB, docs []string) (*sql.DB, []filterRow) {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one connection: one in-memory database
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec(`CREATE TABLE t(id TEXT PRIMARY KEY, doc TEXT)`); err != nil {
		t.Fatal(err)
	}
	var rows []filterRow
	for i, doc := range docs {
		var m map[string]any
		if err := json.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("row %d: %v: %s", i, err, doc)
		}
		id := fmt.Sprintf("r%03d", i)
		if _, err := db.Exec(`INSERT INTO t VALUES (?, ?)`, id, doc); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, filterRow{id, doc, m})
	}
	return db, rows
}

type translateFunc func(odata.Expr, func(string) (string, bool)) (string, []any, bool)

// outcome is the comparison of one filter's SQL with odata.Match.
type outcome struct {
	exact         bool
	matched, sqlN int
	problem       string // empty when the SQL is right
}

func checkFilter(db *sql.DB, rows []filterRow, tr translateFunc, f odata.Expr) outcome {
	where, args, exact := tr(f, testPath)
	res := outcome{exact: exact}
	report := func(format string, a ...any) outcome {
		res.problem = fmt.Sprintf("filter: %s\nexact: %v\nSQL:   %s\nargs:  %q\n", odata.Format(f), exact, where, args) +
			fmt.Sprintf(format, a...)
		return res
	}
	q, err := db.Query("SELECT id FROM t WHERE "+where, args...)
	if err != nil {
		return report("error: %v", err)
	}
	got := map[string]bool{}
	for q.Next() {
		var id string
		if err := q.Scan(&id); err != nil {
			q.Close()
			return report("scan: %v", err)
		}
		got[id] = true
	}
	q.Close()
	if err := q.Err(); err != nil {
		return report("error: %v", err)
	}
	res.sqlN = len(got)
	var missing, extra []string
	for _, r := range rows {
		want := odata.Match(f, r.m)
		if want {
			res.matched++
		}
		switch {
		case want && !got[r.id]:
			missing = append(missing, fmt.Sprintf("  %s %s (Eval: %#v)", r.id, r.doc, odata.Eval(f, r.m)))
		case !want && got[r.id] && exact:
			extra = append(extra, fmt.Sprintf("  %s %s (Eval: %#v)", r.id, r.doc, odata.Eval(f, r.m)))
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		return report("rows odata.Match accepts that SQL does not select:\n%s\nrows SQL selects that odata.Match rejects:\n%s",
			strings.Join(missing, "\n"), strings.Join(extra, "\n"))
	}
	return res
}

// Values the generated rows and filters draw on. Numbers, strings and dates overlap between
// rows and literals so that comparisons hit.
var (
	testNumbers = []float64{0, 1, -1, 2, 3, -3, 0.5, -0.5, 1.5, -2.5, 2.5, 7.5, -7, 10, 0.1, 0.2,
		0.30000000000000004, 0.49999999999999994, 1e21, 9007199254740992, 1e308, -1e308,
		math.MaxFloat64, 5e-324, 123.456}
	testStrings = []string{"", "a", "A", "b", "B", "abc", "ABC", "aBc", "abcabc", "bc", "é", "É",
		"ǅ", "ß", "straße", "STRASSE", "İ", "日本語", "x'y", "%_*?[^]", " pad ", "\u00a0nb\u3000",
		"\tx\n", "a\x00b", "\x00", "1", "true", "null", "z", "Zebra", "zebra", "\u2028"}
	testInstants = []time.Time{
		time.Date(2014, 6, 9, 23, 40, 4, 297e6, time.UTC),
		time.Date(2014, 6, 9, 23, 40, 4, 0, time.UTC),
		time.Date(2014, 6, 9, 23, 40, 0, 0, time.UTC),
		time.Date(2014, 6, 10, 0, 0, 0, 0, time.UTC),
		time.Date(2014, 2, 28, 12, 0, 0, 0, time.UTC),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC),
	}
	// testDates are date-time strings in and out of odata's grammar; each is also a row value.
	testDates = []string{
		"2014-06-09T23:40:04.297Z", "2014-06-09T23:40:04.298Z", "2014-06-09T23:40:04Z",
		"2014-06-09T23:40:04.2979Z", "2014-06-09t23:40:04.297z", "2014-06-09 23:40:04.297",
		"2014-06-09T23:40", "2014-06-10T01:40:04.297+02:00", "2014-06-09T22:40:04.297-01:00",
		"2014-06-09", "2014-02-29T00:00Z", "2016-02-29T00:00Z", "2014-04-31T00:00Z",
		"2014-13-01T00:00Z", "2014-00-01T00:00Z", "2014-06-00T00:00Z", "2014-06-09T24:00Z",
		"2014-06-09T23:60Z", "2014-06-09T23:59:60Z", "0000-01-01T00:30:00+01:00",
		"9999-12-31T23:30:00-01:00", "0000-01-01T00:00:00.000Z", "9999-12-31T23:59:59.999Z",
		"2014-06-09T23:40:04.Z", "2014-06-09T23:40:04.297+24:00", "2014-06-09T23:40:04.297+23:59",
		"2014-06-09T23:40:04.297+02:60", "2014-06-09T23:40:04.297 Z", "2014-06-09T23:40:04.297Z ",
		" 2014-06-09T23:40:04.297Z", "2014-06-09T23:40:4Z", "2014-06-09T23:40:04+0200",
		"2014-06-09T23:40:04.297\x00", "2014-06-09T23:40:04,297Z", "2014-06-09TT23:40:04Z",
		"2014-06-09T23:40:04.123456789123Z", "2014-06-09T23:40.5Z", "2014-06-09T23:40:04.297Zx",
		"2014-06-09T23:40:04.297+02:00x", "2014-06-09T23:40:04.297+2:00", "2014-06-09T23:40:04+00:00",
		"2014-06-09T23:40:04-00:30", "２014-06-09T23:40:04Z", "2014-06-09T23:40:04.297é",
		"2014-06-10T00:00:00.000Z", "2014-06-09T23:40:04.296Z", "2014-06-09T23:40:04.297",
		"2014-02-30T00:00:00.000Z", "2014-06-09T24:00:00.000Z", "2014-06-09T23:40:04.297z",
	}
)

// randomDate makes a string near odata's date-time grammar, valid or not.
func randomDate(r *rand.Rand) string {
	pick := func(xs ...string) string { return xs[r.Intn(len(xs))] }
	var b strings.Builder
	b.WriteString(pick("0000", "1999", "2014", "2016", "9999"))
	fmt.Fprintf(&b, "-%02d-%02d", r.Intn(14), r.Intn(33))
	b.WriteString(pick("T", "T", "T", "t", " ", "x"))
	fmt.Fprintf(&b, "%02d:%02d", r.Intn(25), r.Intn(61))
	if r.Intn(4) > 0 {
		fmt.Fprintf(&b, ":%02d", r.Intn(61))
		if r.Intn(2) == 0 {
			b.WriteString("." + fmt.Sprint(r.Int63())[:1+r.Intn(10)])
		}
	}
	switch r.Intn(6) {
	case 0:
	case 1, 2:
		b.WriteString("Z")
	case 3:
		b.WriteString("z")
	default:
		fmt.Fprintf(&b, "%s%02d:%02d", pick("+", "-"), r.Intn(25), r.Intn(61))
	}
	return b.String()
}

// randomCell is a JSON value for a row; ok false means the key is missing.
func randomCell(r *rand.Rand) (v any, ok bool) {
	switch r.Intn(14) {
	case 0:
		return nil, false
	case 1:
		return nil, true
	case 2:
		return r.Intn(2) == 0, true
	case 3, 4:
		return testNumbers[r.Intn(len(testNumbers))], true
	case 5:
		return float64(r.Intn(7) - 3), true
	case 6, 7:
		return testStrings[r.Intn(len(testStrings))], true
	case 8, 9:
		return testDates[r.Intn(len(testDates))], true
	case 10:
		return randomDate(r), true
	case 11:
		return testInstants[r.Intn(len(testInstants))].Format("2006-01-02T15:04:05.000Z"), true
	case 12:
		return []any{1.0, "a"}, true
	default:
		if r.Intn(2) == 0 {
			return map[string]any{"x": 1.0}, true
		}
		return r.NormFloat64() * 10, true
	}
}

var testColumns = []string{"a", "b", "c", "d", "e"}

// rawDocs are documents written by hand: number spellings encoding/json does not produce.
var rawDocs = []string{
	`{"a": 9007199254740993, "b": 123456789012345678901234567890, "c": 1E2, "d": -0, "e": 2.5e-3}`,
	`{"a": 9007199254740992, "b": 1.2345678901234568e+29, "c": 100, "d": 0.0, "e": 0.0025}`,
	`{"a": 1.0, "b": -0.0, "c": 1e-400, "d": 18446744073709551616, "e": -9223372036854775809}`,
	`{}`,
	`{"a": "\u00e9\ud83d\ude00", "b": "tab\tnl\n", "c": "\u0000x", "d": [], "e": {}}`,
}

// testDocs makes n random rows plus rawDocs.
func testDocs(r *rand.Rand, n int) []string {
	docs := slices.Clone(rawDocs)
	for range n {
		m := map[string]any{}
		for _, c := range testColumns {
			if v, ok := randomCell(r); ok {
				m[c] = v
			}
		}
		if r.Intn(4) == 0 {
			m["nopath"] = float64(r.Intn(3))
		}
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		docs = append(docs, string(b))
	}
	return docs
}

// filterGen builds random filter trees over testColumns.
type filterGen struct{ r *rand.Rand }

func (g filterGen) prop() odata.Expr {
	if g.r.Intn(40) == 0 {
		return odata.Prop("nopath")
	}
	return odata.Prop(testColumns[g.r.Intn(len(testColumns))])
}

func (g filterGen) literal() odata.Expr {
	switch g.r.Intn(10) {
	case 0:
		return odata.Lit(nil)
	case 1:
		return odata.Lit(g.r.Intn(2) == 0)
	case 2, 3:
		return odata.Lit(testNumbers[g.r.Intn(len(testNumbers))])
	case 4:
		return odata.Lit(float64(g.r.Intn(7) - 3))
	case 5, 6:
		return odata.Lit(testStrings[g.r.Intn(len(testStrings))])
	case 7:
		return odata.Lit(testDates[g.r.Intn(len(testDates))])
	default:
		return odata.Lit(testInstants[g.r.Intn(len(testInstants))])
	}
}

var (
	cmpOps   = []string{"eq", "ne", "gt", "ge", "lt", "le"}
	arithOps = []string{"add", "sub", "mul", "div", "mod"}
)

// maybePointer sometimes turns a node into its pointer form, which odata also accepts.
func (g filterGen) maybePointer(e odata.Expr) odata.Expr {
	if g.r.Intn(15) != 0 {
		return e
	}
	switch x := e.(type) {
	case odata.Binary:
		return &x
	case odata.Call:
		return &x
	case odata.Unary:
		return &x
	case odata.Property:
		return &x
	case odata.Literal:
		return &x
	}
	return e
}

func (g filterGen) boolean(depth int) odata.Expr {
	n := 12
	if depth <= 0 {
		n = 4
	}
	var e odata.Expr
	switch g.r.Intn(n) {
	case 0, 1: // property against literal, either side
		l, r := g.prop(), g.literal()
		if g.r.Intn(2) == 0 {
			l, r = r, l
		}
		e = odata.Binary{Op: cmpOps[g.r.Intn(6)], Left: l, Right: r}
	case 2: // null test
		l, r := g.value(depth-1), odata.Lit(nil)
		if g.r.Intn(2) == 0 {
			l, r = r, l
		}
		e = odata.Binary{Op: cmpOps[g.r.Intn(2)], Left: l, Right: r}
	case 3:
		if g.r.Intn(2) == 0 {
			e = g.prop()
		} else {
			e = odata.Binary{Op: cmpOps[g.r.Intn(6)], Left: g.prop(), Right: g.prop()}
		}
	case 4, 5:
		e = odata.Binary{Op: cmpOps[g.r.Intn(6)], Left: g.value(depth - 1), Right: g.value(depth - 1)}
	case 6, 7:
		e = odata.Binary{Op: []string{"and", "or"}[g.r.Intn(2)], Left: g.boolean(depth - 1), Right: g.boolean(depth - 1)}
	case 8:
		e = odata.Not(g.boolean(depth - 1))
	case 9:
		name := []string{"startswith", "endswith", "contains", "substringof"}[g.r.Intn(4)]
		e = odata.Call{Name: name, Args: []odata.Expr{g.value(depth - 1), g.value(depth - 1)}}
	case 10:
		e = g.literal()
	default:
		e = g.value(depth - 1)
	}
	return g.maybePointer(e)
}

func (g filterGen) value(depth int) odata.Expr {
	if depth <= 0 || g.r.Intn(3) == 0 {
		if g.r.Intn(3) == 0 {
			return g.literal()
		}
		return g.prop()
	}
	var e odata.Expr
	switch g.r.Intn(10) {
	case 0:
		e = odata.Binary{Op: arithOps[g.r.Intn(5)], Left: g.value(depth - 1), Right: g.value(depth - 1)}
	case 1:
		e = odata.Unary{Op: "-", X: g.value(depth - 1)}
	case 2:
		name := []string{"tolower", "toupper", "trim", "length"}[g.r.Intn(4)]
		e = odata.Call{Name: name, Args: []odata.Expr{g.value(depth - 1)}}
	case 3:
		name := []string{"concat", "indexof", "startswith", "endswith", "contains", "substringof"}[g.r.Intn(6)]
		e = odata.Call{Name: name, Args: []odata.Expr{g.value(depth - 1), g.value(depth - 1)}}
	case 4:
		args := []odata.Expr{g.value(depth - 1), odata.Lit(float64(g.r.Intn(6) - 1))}
		if g.r.Intn(2) == 0 {
			args[1] = g.value(depth - 1)
		}
		if g.r.Intn(2) == 0 {
			args = append(args, odata.Lit(float64(g.r.Intn(5)-1)+0.5*float64(g.r.Intn(2))))
		}
		e = odata.Call{Name: "substring", Args: args}
	case 5:
		name := []string{"year", "month", "day", "hour", "minute", "second"}[g.r.Intn(6)]
		e = odata.Call{Name: name, Args: []odata.Expr{g.value(depth - 1)}}
	case 6:
		name := []string{"round", "floor", "ceiling"}[g.r.Intn(3)]
		e = odata.Call{Name: name, Args: []odata.Expr{g.value(depth - 1)}}
	case 7:
		e = g.boolean(depth - 1)
	case 8: // what odata evaluates to null: unknown operators, functions and arities
		switch g.r.Intn(4) {
		case 0:
			e = odata.Binary{Op: "xor", Left: g.value(depth - 1), Right: g.value(depth - 1)}
		case 1:
			e = odata.Unary{Op: "~", X: g.value(depth - 1)}
		case 2:
			e = odata.Call{Name: "nosuch", Args: []odata.Expr{g.value(depth - 1)}}
		default:
			e = odata.Call{Name: "length", Args: []odata.Expr{g.value(depth - 1), g.value(depth - 1)}}
		}
	default:
		e = g.literal()
	}
	return g.maybePointer(e)
}

// raceEnabled reports whether the test binary was built with -race.
func raceEnabled() bool {
	info, ok := debug.ReadBuildInfo()
	return ok && slices.ContainsFunc(info.Settings, func(s debug.BuildSetting) bool { return s.Key == "-race" && s.Value == "true" })
}

// grammatical reports whether e only has nodes ParseFilter can produce (no unknown operator,
// function or translatedArity).
func grammatical(e odata.Expr) bool {
	switch x := derefExpr(e).(type) {
	case odata.Unary:
		return (x.Op == "not" || x.Op == "-") && grammatical(x.X)
	case odata.Binary:
		_, cmp := sqlOps[x.Op]
		known := cmp || slices.Contains([]string{"and", "or", "add", "sub", "mul", "div", "mod"}, x.Op)
		return known && grammatical(x.Left) && grammatical(x.Right)
	case odata.Call:
		n, ok := translatedArity[x.Name]
		if !ok || len(x.Args) != n && !(x.Name == "substring" && len(x.Args) == 3) {
			return false
		}
		for _, a := range x.Args {
			if !grammatical(a) {
				return false
			}
		}
	}
	return true
}

// diffStats sums up a differential run.
type diffStats struct {
	problems               []string
	exact, grammar, gExact int // exact translations; filters of the grammar and their exact ones
	matched, selected      int // over the inexact translations: rows matched, candidates selected
}

// differential runs up to n random filters against the rows; it stops early once stop (if
// not nil) accepts a problem.
func differential(t testing.TB, tr translateFunc, seed int64, nRows, n int, stop func(problem string) bool) diffStats {
	r := rand.New(rand.NewSource(seed))
	db, rows := filterTable(t, testDocs(r, nRows))
	g := filterGen{r}
	var st diffStats
	for range n {
		f := g.boolean(1 + r.Intn(4))
		o := checkFilter(db, rows, tr, f)
		if o.problem != "" {
			st.problems = append(st.problems, o.problem)
			if stop != nil && stop(o.problem) {
				break
			}
			continue
		}
		gr := grammatical(f)
		if gr {
			st.grammar++
		}
		if o.exact {
			st.exact++
			if gr {
				st.gExact++
			}
		} else {
			st.matched += o.matched
			st.selected += o.sqlN
		}
	}
	return st
}

func TestTranslateDifferential(t *testing.T) {
	n := 10000
	switch {
	case testing.Short():
		n = 1000
	case raceEnabled(): // the race detector slows SQLite down some 25 times
		n = 1500
	}
	grammar, gExact := 0, 0
	for _, seed := range []int64{1, 2, 3} {
		st := differential(t, translate, seed, 60, n, nil)
		for i, p := range st.problems {
			if i == 5 {
				t.Errorf("seed %d: … and %d more", seed, len(st.problems)-5)
				break
			}
			t.Errorf("seed %d:\n%s", seed, p)
		}
		grammar += st.grammar
		gExact += st.gExact
		t.Logf("seed %d: %d filters, %d translated exactly (%.1f%%; %.1f%% of the %d in ParseFilter's grammar); "+
			"the inexact ones selected %d candidates for %d matches",
			seed, n, st.exact, 100*float64(st.exact)/float64(n), 100*float64(st.gExact)/float64(st.grammar), st.grammar,
			st.selected, st.matched)
	}
	// Only tolower/toupper, length, substring and the property without a path are inexact in
	// the grammar (about 5% of these filters): a drop means the fast path lost ground.
	if share := float64(gExact) / float64(grammar); share < 0.9 {
		t.Errorf("only %.1f%% of the filters in the grammar translate exactly", 100*share)
	}
}

// TestTranslateCatchesBrokenTranslations shows that the differential test has teeth: each
// mutation of translate's SQL below is a plausible bug, and the comparison reports it.
func TestTranslateCatchesBrokenTranslations(t *testing.T) {
	mutations := []struct{ name, from, to string }{
		{"no number type guard", "IN ('integer', 'real')", "IS NOT NULL"},
		{"case-insensitive strings", "COLLATE BINARY", "COLLATE NOCASE"},
		{"null booleans read as false", "WHEN 'false' THEN 0 END", "ELSE 0 END"},
		{"arrays and objects not null", "IN ('null', 'array', 'object')", "= 'null'"},
		{"no date validation", "AND strftime('%Y-%m-%dT%H:%M:%f', _dl) = _dl", ""},
		{"no canonical date validation", "AND strftime('%Y-%m-%dT%H:%M:%fZ', _ds) = _ds", ""},
		{"year out of range", "GLOB '[0-9][0-9][0-9][0-9]' THEN", "OR 1 THEN"},
		{"date offsets ignored", "THEN '-' ELSE '+' END", "THEN '+' ELSE '+' END || '0*'"},
		{"overflow not null", "nullif(nullif(", "coalesce(coalesce("},
		{"empty prefix not found", ") = 0 THEN 1 ", ") = 0 THEN 0 "},
		{"prefix by characters", " AS BLOB)", " AS TEXT)"},
		{"fraction misread", "|| '00', 1, 3)", "|| '00', 2, 3)"},
	}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			broken := func(e odata.Expr, path func(string) (string, bool)) (string, []any, bool) {
				where, args, exact := translate(e, path)
				return strings.ReplaceAll(where, m.from, m.to), args, exact
			}
			// A mutation that makes SQLite fail would prove little: look for wrong answers.
			wrong := func(p string) bool { return !strings.Contains(p, "\nerror: ") }
			problems := differential(t, broken, 7, 60, 5000, wrong).problems
			if len(problems) == 0 || !wrong(problems[len(problems)-1]) {
				t.Fatalf("the differential test did not notice %q → %q (%d SQL errors)", m.from, m.to, len(problems))
			}
			t.Logf("noticed:\n%s", problems[len(problems)-1])
		})
	}
}

// caseDocs are the rows of TestTranslateCases, by id r000…
var caseDocs = []string{
	`{}`, // r000: everything missing
	`{"a": null, "b": null, "s": null}`,
	`{"a": 1, "b": 1, "s": "1", "t": true}`,
	`{"a": "1", "b": 2, "s": "abc", "t": false}`,
	`{"a": true, "b": [1], "s": "ABC", "t": "true"}`,
	`{"a": 0.5, "b": {"x": 1}, "s": "é", "t": null}`, // r005
	`{"a": 0.49999999999999994, "s": "straße", "d": "2014-06-09T23:40:04.297Z"}`,
	`{"a": -2.5, "s": "STRASSE", "d": "2014-06-09T23:40:04Z"}`,
	`{"a": 1e308, "s": "a\u0000b", "d": "2014-06-10T01:40:04.297+02:00"}`,
	`{"a": 9007199254740993, "s": " x\u00a0", "d": "2014-06-09"}`,
	`{"a": -7, "s": "b", "d": "2014-02-30T00:00:00.000Z"}`, // r010
	`{"a": 7.5, "s": "B", "d": "2014-06-09t23:40:04.2979z"}`,
}

func TestTranslateCases(t *testing.T) {
	db, rows := filterTable(t, caseDocs)
	ids := func(ns ...int) []string {
		out := []string{}
		for _, n := range ns {
			out = append(out, fmt.Sprintf("r%03d", n))
		}
		return out
	}
	cases := []struct {
		filter string
		want   []string // the rows odata.Match accepts
		exact  bool
	}{
		// Null: only a comparison with the literal null tests for it; arrays and objects are
		// of unknown type and count as null.
		{"b eq null", ids(0, 1, 4, 5, 6, 7, 8, 9, 10, 11), true},
		{"b ne null", ids(2, 3), true},
		{"null eq b", ids(0, 1, 4, 5, 6, 7, 8, 9, 10, 11), true},
		{"a eq b", ids(2), true},
		{"a ne b", ids(), true},                            // r003: "1" vs 2 is a type mismatch: null
		{"not (a eq 1)", ids(5, 6, 7, 8, 9, 10, 11), true}, // not null is null: missing, "1", true excluded
		{"a ne 1", ids(5, 6, 7, 8, 9, 10, 11), true},
		{"a eq '1'", ids(3), true},
		{"t", ids(2), true},
		{"not t", ids(3), true},
		{"t eq false", ids(3), true},
		{"t ne true", ids(3), true},
		{"t gt false", ids(2), true},
		// Kleene logic: false and null is false, true or null is true.
		{"not (t and s eq 5)", ids(3), true},
		{"t or a eq 5", ids(2), true},
		{"not (t or a eq 5)", ids(), true},
		{"a and true", ids(4), true},
		{"1 and true", ids(), true},
		// Strings compare ordinally (byte-wise, case-sensitive).
		{"s lt 'b'", ids(2, 3, 4, 7, 8, 9, 11), true},
		{"s ge 'b'", ids(5, 6, 10), true},
		{"s eq 'abc'", ids(3), true},
		{"startswith(s, 'a')", ids(3, 8), true},
		{"endswith(s, 'e')", ids(6), true},
		{"substringof('tra', s)", ids(6), true},
		{"contains(s, 'b')", ids(3, 8, 10), true},
		{"indexof(s, 'b') eq 2", ids(8), true},
		{"trim(s) eq 'x'", ids(9), true},
		{"concat(s, s) eq 'bb'", ids(10), true},
		{"length(s) eq 3", ids(3, 4, 8, 9), false}, // guarded: "a\x00b" has a NUL
		{"tolower(s) eq 'strasse'", ids(7), false},
		{"toupper(s) eq 'STRASSE'", ids(7), false}, // unicode.ToUpper('ß') is 'ß'
		{"tolower(s) eq 'abc'", ids(3, 4), false},
		{"substring(s, 1) eq 'traße'", ids(6), false},
		{"substring(s, 1, 2) eq 'tr'", ids(6), false},
		// Numbers compare as float64.
		{"a eq 9007199254740992", ids(9), true},
		{"round(a) eq 0", ids(6), true},
		{"round(a) eq -3", ids(7), true},
		{"floor(a) eq -3", ids(7), true},
		{"ceiling(a) eq 1", ids(2, 5, 6), true},
		{"a mod 3 eq -1", ids(10), true},
		{"a mod 2 eq 1.5", ids(11), true},
		{"a mul 10 gt 0", ids(2, 5, 6, 9, 11), true}, // 1e308 * 10 overflows: null
		{"(a div 0) eq null", ids(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), true},
		{"a div 2 eq 3.75", ids(11), true},
		{"-a eq 7", ids(10), true},
		// Dates: a string compares with a date-time literal as an instant when it parses.
		{"d eq datetimeoffset'2014-06-09T23:40:04.297Z'", ids(6, 8, 11), true},
		{"d lt datetime'2014-06-09T23:40:04.297'", ids(7), true},
		{"d ne datetime'2014-06-09T23:40:04.297'", ids(7), true},
		{"datetime'2014-06-09T23:40:04.297' gt d", ids(7), true},
		{"d eq '2014-06-09T23:40:04.297Z'", ids(6), true}, // string to string: ordinal
		{"year(d) eq 2014 and month(d) eq 6 and day(d) eq 9", ids(6, 7, 8, 11), true},
		{"hour(d) eq 23 and minute(d) eq 40 and second(d) eq 4", ids(6, 7, 8, 11), true},
		// The store cannot say where nopath is: inexact, and not more restrictive.
		{"nopath eq 1 or a eq 1", ids(2), false},
		{"not (nopath eq 1) and a eq 1", ids(), false},
		// Constants fold.
		{"1 eq 1", ids(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11), true},
		{"1 eq '1'", ids(), true},
	}
	for _, c := range cases {
		f, err := odata.ParseFilter(c.filter)
		if err != nil {
			t.Fatalf("%s: %v", c.filter, err)
		}
		var want []string
		for _, r := range rows {
			if odata.Match(f, r.m) {
				want = append(want, r.id)
			}
		}
		if !slices.Equal(want, c.want) {
			t.Errorf("%s: odata.Match accepts %v, the case expects %v", c.filter, want, c.want)
		}
		o := checkFilter(db, rows, translate, f)
		if o.problem != "" {
			t.Errorf("%s", o.problem)
		}
		if o.exact != c.exact {
			where, _, _ := translate(f, testPath)
			t.Errorf("%s: exact is %v, want %v\nSQL: %s", c.filter, o.exact, c.exact, where)
		}
	}
}

// TestTranslateParsedFilters runs filters written as text, including odata's fuzz seeds.
func TestTranslateParsedFilters(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	db, rows := filterTable(t, testDocs(r, 60))
	filters := []string{
		`(updatedAt ge datetimeoffset'2014-06-09T23:40:04.297Z')`,
		`((complete eq false) and (__updatedAt ge datetimeoffset'2014-06-09T23:40:04.297Z'))`,
		"substringof('eggs',tolower(text))",
		"a eq 1 and b ne 'x' or not c",
		"not a eq b",
		"a or b and c",
		"-3 mul -a sub --4",
		"a sub (b sub c)",
		"'it''s' eq b",
		"datetimeoffset'2014-06-10T01:40:04.2979999+02:00' eq a",
		"guid'0f8fad5b-d9cb-469f-a165-70867728950e' ne a",
		"a eq 123456789012345678901234567890",
		"b eq 123456789012345678901234567890 and a eq 9007199254740993 and c eq 100 and d eq 0 and e eq 0.0025",
		"d eq 18446744073709551616 or e eq -9223372036854775809 or b lt 0 or c eq 0",
		"10L add 1.5m add 2d add 3F eq a",
		"substring(b,1,2) eq 'é'",
		"substring(b,-1e300,1e300) eq b",
		"concat(concat(b,b),concat(a,a)) ne 'x'",
		"indexof(b,'w') add length(b) mod 0 eq null",
		"year(d) eq 2014 and hour(a) eq 23 and second(e) lt 5",
		"round(a div 3) eq floor(1.5) add ceiling(-1.5)",
		"'\u00e9\u4e16\u754c' eq b",
		strings.Repeat("(", 100) + "a" + strings.Repeat(")", 100),
		strings.Repeat("not ", 99) + "a",
		strings.Repeat("-", 99) + "a eq 1",
		strings.Repeat("tolower(", 60) + "b" + strings.Repeat(")", 60) + " eq 'abc'",
		strings.Repeat("a eq 1 or ", 300) + "b",
		strings.Repeat("a ne 1 and ", 3000) + "b",
		strings.Repeat("b eq 'x' or ", 4000) + "c",
		"a eq " + strings.Repeat("a add ", 3000) + "1",
		strings.Repeat("round(", 99) + "a" + strings.Repeat(")", 99) + " eq 1",
		strings.Repeat("concat(", 99) + "b" + strings.Repeat(", 'x')", 99) + " ne ''",
		strings.Repeat("substring(", 99) + "b" + strings.Repeat(", 1)", 99) + " eq ''",
		strings.Repeat("year(concat(", 49) + "b" + strings.Repeat(", '')) add 0", 49) + " gt 1",
		strings.Repeat("(a eq 1 or (b lt 'x' and ", 48) + "c" + strings.Repeat("))", 48),
		strings.Repeat("startswith(concat(b, ", 48) + "'x'" + strings.Repeat("), 'a') eq true", 48),
	}
	for _, s := range filters {
		f, err := odata.ParseFilter(s)
		if err != nil {
			t.Fatalf("%.80s: %v", s, err)
		}
		if o := checkFilter(db, rows, translate, f); o.problem != "" {
			t.Errorf("%.2000s", o.problem)
		}
	}
}

// TestTranslateBindsEverything checks that no literal or path reaches the SQL text.
func TestTranslateBindsEverything(t *testing.T) {
	f, err := odata.ParseFilter(`Secret eq 'x'' OR 1=1 --' or startswith(Secret, 'y') or Secret gt 42.5 or Secret lt datetime'2014-06-09T23:40'`)
	if err != nil {
		t.Fatal(err)
	}
	where, args, exact := translate(f, func(name string) (string, bool) { return `$."` + name + `"`, true })
	if !exact {
		t.Errorf("not exact: %s", where)
	}
	for _, s := range []string{"Secret", "OR 1=1", "42.5", "2014"} {
		if strings.Contains(where, s) {
			t.Errorf("%q is spelled into the SQL: %s", s, where)
		}
	}
	if strings.Count(where, "?") != len(args) {
		t.Errorf("%d placeholders for %d args", strings.Count(where, "?"), len(args))
	}
}

// spellInstant writes instant t in a random one of the spellings odata's date-time grammar accepts.
func spellInstant(r *rand.Rand, t time.Time) string {
	offset := 0
	switch r.Intn(3) {
	case 0:
		offset = (r.Intn(47) - 23) * 60
	case 1:
		offset = r.Intn(2*24*60-1) - (24*60 - 1)
	}
	local := t.Add(time.Duration(offset) * time.Minute)
	var b strings.Builder
	b.WriteString(local.Format("2006-01-02"))
	b.WriteString([]string{"T", "t", " "}[r.Intn(3)])
	b.WriteString(local.Format("15:04"))
	if local.Second() != 0 || local.Nanosecond() != 0 || r.Intn(2) == 0 {
		b.WriteString(local.Format(":05"))
		if ms := local.Nanosecond() / 1e6; ms != 0 || r.Intn(2) == 0 {
			digits := fmt.Sprintf("%03d", ms)
			if r.Intn(2) == 0 && ms%100 == 0 {
				digits = digits[:1]
			}
			for range r.Intn(7) { // digits past the millisecond are truncated
				digits += fmt.Sprint(r.Intn(10))
			}
			b.WriteString("." + digits)
		}
	}
	switch {
	case offset != 0:
		sign, m := "+", offset
		if m < 0 {
			sign, m = "-", -m
		}
		fmt.Fprintf(&b, "%s%02d:%02d", sign, m/60, m%60)
	case r.Intn(3) == 0:
	case r.Intn(2) == 0:
		b.WriteString("z")
	default:
		b.WriteString([]string{"Z", "+00:00", "-00:00"}[r.Intn(3)])
	}
	return b.String()
}

// TestTranslateDateStrings compares date-time literals with many spellings of nearby instants
// and with strings that are almost date-times, through comparisons and year() … second().
func TestTranslateDateStrings(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	instants := slices.Clone(testInstants)
	for _, base := range []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC),
		time.Date(2016, 2, 29, 23, 59, 59, 999e6, time.UTC), time.Date(2014, 12, 31, 23, 30, 0, 0, time.UTC),
		time.Date(2014, 6, 9, 23, 40, 4, 297e6, time.UTC), time.Date(1999, 3, 1, 0, 0, 0, 0, time.UTC),
	} {
		for range 6 {
			instants = append(instants, base.Add(time.Duration(r.Intn(3)-1)*time.Millisecond*time.Duration([]int{1, 1000, 60000, 3600000, 86400000}[r.Intn(5)])))
		}
	}
	var docs []string
	add := func(s string) {
		b, _ := json.Marshal(map[string]any{"d": s})
		docs = append(docs, string(b))
	}
	for _, s := range testDates {
		add(s)
	}
	spellings, almost := 400, 200
	if raceEnabled() {
		spellings, almost = 120, 60
	}
	for range spellings {
		add(spellInstant(r, instants[r.Intn(len(instants))]))
	}
	for range almost {
		add(randomDate(r))
	}
	db, rows := filterTable(t, docs)
	n, equal := 0, 0
	for _, in := range instants {
		if in.Year() < 0 || in.Year() > 9999 {
			continue // no literal holds it; its spellings are still rows
		}
		lit := odata.Lit(in)
		for _, op := range cmpOps {
			if r.Intn(2) == 0 {
				continue
			}
			var f odata.Expr = odata.Binary{Op: op, Left: odata.Prop("d"), Right: lit}
			if r.Intn(2) == 0 {
				f = odata.Binary{Op: op, Left: lit, Right: odata.Prop("d")}
			}
			n++
			o := checkFilter(db, rows, translate, f)
			if o.problem != "" || !o.exact {
				t.Fatalf("%.4000s", o.problem)
			}
			if op == "eq" {
				equal += o.matched
			}
		}
		name := []string{"year", "month", "day", "hour", "minute", "second"}[r.Intn(6)]
		f := odata.Eq(odata.Call{Name: name, Args: []odata.Expr{odata.Prop("d")}}, odata.Call{Name: name, Args: []odata.Expr{lit}})
		n++
		if o := checkFilter(db, rows, translate, f); o.problem != "" || !o.exact {
			t.Fatalf("%.4000s", o.problem)
		}
	}
	if equal == 0 {
		t.Fatal("no spelling of an instant matched it with eq")
	}
	t.Logf("%d filters over %d date strings; the eq filters matched %d rows", n, len(rows), equal)
}

// TestTranslateDeepFilters nests random wrappers up to odata's MaxDepth: whatever the nesting,
// the SQL must stay within SQLite's limits (or give up) and never be more restrictive.
func TestTranslateDeepFilters(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	db, rows := filterTable(t, testDocs(r, 40))
	wrappers := []string{
		"tolower(%s)", "trim(%s)", "substring(%s, 1)", "substring(%s, 1, 3)", "concat(%s, 'a')",
		"concat(b, %s)", "round(%s)", "floor(%s)", "-(%s)", "(%s) add 1", "2 div (%s)", "(%s) mod a",
		"year(%s)", "length(%s)", "indexof(%s, 'a')", "not (%s)", "(%s) eq 1", "(%s) eq null",
		"(%s) and a", "b or (%s)", "startswith(%s, b)", "endswith(b, %s)", "contains(%s, 'b')",
		"(%s) ge datetime'2014-06-09T23:40'", "(%s) lt c", "nopath eq (%s)",
	}
	leaves := []string{"a", "b", "c", "d", "e", "'2014-06-09T23:40:04Z'", "1.5"}
	exact, parsed := 0, 0
	for i := range 400 {
		s := leaves[r.Intn(len(leaves))]
		for range 1 + r.Intn(odata.MaxDepth/2) {
			s = fmt.Sprintf(wrappers[r.Intn(len(wrappers))], s)
		}
		f, err := odata.ParseFilter(s)
		if err != nil {
			continue // too deep once parentheses count
		}
		parsed++
		o := checkFilter(db, rows, translate, f)
		if o.problem != "" {
			t.Fatalf("filter %d:\n%.3000s", i, o.problem)
		}
		if o.exact {
			exact++
		}
	}
	if parsed < 300 {
		t.Fatalf("only %d of 400 deep filters parse", parsed)
	}
	t.Logf("%d of %d deep filters translated exactly", exact, parsed)
}

// BenchmarkTranslatedDateFilter measures the incremental-pull filter over 10,000 rows in SQL.
func BenchmarkTranslatedDateFilter(b *testing.B) {
	r := rand.New(rand.NewSource(1))
	docs := make([]string, 10000)
	for i := range docs {
		ts := time.Date(2014, 6, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int63n(int64(30 * 24 * time.Hour))))
		docs[i] = fmt.Sprintf(`{"id": "%d", "complete": %v, "updatedAt": %q, "text": "row %d"}`, i, i%2 == 0, ts.Format(time.RFC3339Nano), i)
	}
	db, _ := filterTable(b, docs)
	f, err := odata.ParseFilter(`(complete eq false) and (updatedAt ge datetimeoffset'2014-06-29T00:00:00.000Z')`)
	if err != nil {
		b.Fatal(err)
	}
	where, args, exact := translate(f, testPath)
	if !exact {
		b.Fatal("not exact")
	}
	b.ResetTimer()
	for range b.N {
		var n int
		if err := db.QueryRow("SELECT count(*) FROM t WHERE "+where, args...).Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
}
