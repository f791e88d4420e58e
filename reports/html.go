package reports

import (
	_ "embed"
	"html/template"
	"io"
)

var (
	//go:embed report.html.tmpl
	htmlSource string
	//go:embed report.css
	htmlStyle string
	//go:embed report.js
	htmlScript string
)

// htmlReport is report.html's template. html/template escapes every value by the context
// it lands in, so scenario names, outputs and requests cannot inject markup; the style and
// the script are the package's own, and the timelines' data is JSON that cannot close its
// <script> element (timeline.go).
var htmlReport = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"inc":    func(i int) int { return i + 1 },
	"style":  func() template.CSS { return template.CSS(htmlStyle) },
	"script": func() template.JS { return template.JS(htmlScript) },
	"data":   func(s string) template.JS { return template.JS(s) },
}).Parse(htmlSource))

// WriteHTML writes the run as report.html: one self-contained page (inline style and
// script, nothing fetched) with the provenance, the matrix (filter by label and status,
// totals per column, each side of a comparison in adjacent columns, differences marked),
// the properties per column and campaign, the campaigns, every failure, and a timeline of
// every result that has a history, drawn when opened. Scenario files are linked as the
// results name them; WriteAll links them from where it writes the page.
func WriteHTML(w io.Writer, run *Run) error {
	return writeHTML(w, run, "")
}

func writeHTML(w io.Writer, run *Run, linkBase string) error {
	return htmlReport.Execute(w, newReport(run, linkBase))
}
