package reports

import (
	"bytes"
	"cmp"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// The JUnit XML that CI tools read (the Jenkins / Ant schema): testsuites, a testsuite per
// scenario, a testcase per strategy.
type (
	junitSuites struct {
		XMLName  xml.Name     `xml:"testsuites"`
		Name     string       `xml:"name,attr"`
		Tests    int          `xml:"tests,attr"`
		Failures int          `xml:"failures,attr"`
		Errors   int          `xml:"errors,attr"`
		Skipped  int          `xml:"skipped,attr"`
		Time     string       `xml:"time,attr"`
		Suites   []junitSuite `xml:"testsuite"`
	}
	junitSuite struct {
		Name       string          `xml:"name,attr"`
		Tests      int             `xml:"tests,attr"`
		Failures   int             `xml:"failures,attr"`
		Errors     int             `xml:"errors,attr"`
		Skipped    int             `xml:"skipped,attr"`
		Time       string          `xml:"time,attr"`
		Timestamp  string          `xml:"timestamp,attr,omitempty"`
		Properties []junitProperty `xml:"properties>property,omitempty"`
		Cases      []junitCase     `xml:"testcase"`

		total time.Duration
	}
	junitProperty struct {
		Name  string `xml:"name,attr"`
		Value string `xml:"value,attr"`
	}
	junitCase struct {
		Name      string        `xml:"name,attr"`
		Classname string        `xml:"classname,attr"`
		Time      string        `xml:"time,attr"`
		File      string        `xml:"file,attr,omitempty"`
		Failure   *junitFailure `xml:"failure,omitempty"`
		Skipped   *junitSkipped `xml:"skipped,omitempty"`
		SystemOut *junitText    `xml:"system-out,omitempty"`
	}
	junitFailure struct {
		Message string `xml:"message,attr"`
		Type    string `xml:"type,attr,omitempty"`
		Text    string `xml:",innerxml"` // escaped by xmlText
	}
	junitSkipped struct {
		Message string `xml:"message,attr"`
	}
	junitText struct {
		Text string `xml:",innerxml"` // escaped by xmlText
	}
)

// WriteJUnit writes the run as junit.xml: a <testsuite> per scenario (sorted by name) and in
// it a <testcase> per strategy, named "scenario [strategy]"; a failed result carries a
// <failure> with the expectation, what happened and the requests, a skipped one <skipped>
// with its reason, and skipped steps go to <system-out>.
func WriteJUnit(w io.Writer, run *Run) error {
	column := map[string]int{}
	for i, s := range run.Strategies() {
		column[s] = i
	}
	results := sortedResults(run.Results, column)
	labels := map[string][]string{}
	for _, row := range matrix(results, column, len(column)) {
		labels[row.Scenario] = row.Labels
	}

	doc := junitSuites{Name: "conflictlab", Time: seconds(run.Duration)}
	var timestamp string
	if !run.Started.IsZero() {
		timestamp = run.Started.Format("2006-01-02T15:04:05")
	}
	for _, res := range results {
		if n := len(doc.Suites); n == 0 || doc.Suites[n-1].Name != res.Scenario {
			suite := junitSuite{Name: res.Scenario, Timestamp: timestamp}
			if run.Server != "" {
				suite.Properties = append(suite.Properties, junitProperty{Name: "server", Value: run.Server})
			}
			if l := labels[res.Scenario]; len(l) > 0 {
				suite.Properties = append(suite.Properties, junitProperty{Name: "labels", Value: strings.Join(l, ",")})
			}
			if res.File != "" {
				suite.Properties = append(suite.Properties, junitProperty{Name: "file", Value: res.File})
			}
			doc.Suites = append(doc.Suites, suite)
		}
		suite := &doc.Suites[len(doc.Suites)-1]
		classname := "scenarios"
		if l := labels[res.Scenario]; len(l) > 0 {
			classname = l[0]
		}
		tc := junitCase{
			Name:      fmt.Sprintf("%s [%s]", res.Scenario, strategyName(res.Strategy)),
			Classname: classname,
			Time:      seconds(res.Duration),
			File:      res.File,
		}
		switch res.Status {
		case Passed:
		case Failed:
			tc.Failure = junitFailureOf(res.Failure)
			suite.Failures++
		default:
			tc.Skipped = &junitSkipped{Message: cmp.Or(res.Reason, noReason)}
			suite.Skipped++
		}
		if len(res.SkippedSteps) > 0 {
			var b strings.Builder
			for _, st := range res.SkippedSteps {
				fmt.Fprintf(&b, "skipped step %d (%s): %s\n", st.Step, st.What, cmp.Or(st.Reason, noReason))
			}
			tc.SystemOut = &junitText{Text: xmlText(b.String())}
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, tc)
		suite.total += res.Duration
		suite.Time = seconds(suite.total)
	}
	for _, s := range doc.Suites {
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Skipped += s.Skipped
	}

	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

// junitFailureOf is the <failure> of a failed result: a one-line message, the violated
// property as its type, and the whole story as its text.
func junitFailureOf(f *Failure) *junitFailure {
	if f == nil {
		return &junitFailure{Message: "failed"}
	}
	msg := failurePointer(f)
	if first, _, _ := strings.Cut(strings.TrimSpace(oneNewline.Replace(f.Expectation)), "\n"); first != "" {
		msg += ": expected " + first
	}
	var b strings.Builder
	step := newFailureEntry(0, Result{Failure: f}).Step
	fmt.Fprintf(&b, "%s: %s\n", step, f.What)
	if f.Property != "" {
		fmt.Fprintf(&b, "property: %s\n", f.Property)
	}
	fmt.Fprintf(&b, "expected: %s\n", indentLines(f.Expectation))
	fmt.Fprintf(&b, "got: %s\n", indentLines(f.Got))
	if len(f.Requests) > 0 {
		b.WriteString("requests:\n")
		for _, r := range f.Requests {
			fmt.Fprintf(&b, "  %s\n", r)
		}
	}
	if f.Replay != "" {
		fmt.Fprintf(&b, "replay: %s\n", f.Replay)
	}
	return &junitFailure{Message: msg, Type: cmp.Or(f.Property, "expectation"), Text: xmlText(b.String())}
}

// indentLines indents every line of s after the first, so a multi-line value stays under
// its key.
func indentLines(s string) string {
	return strings.ReplaceAll(strings.TrimRight(oneNewline.Replace(s), "\n"), "\n", "\n  ")
}

// xmlText escapes s as XML character data but keeps its line breaks as they are (encoding/xml
// writes them as &#xA;, which no person reads well). Characters XML cannot hold at all
// become U+FFFD, as encoding/xml does.
func xmlText(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(oneNewline.Replace(s))) // a bytes.Buffer does not fail
	return strings.ReplaceAll(b.String(), "&#xA;", "\n")
}
