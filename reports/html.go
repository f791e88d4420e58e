package reports

import (
	_ "embed"
	"html/template"
	"io"
)

//go:embed report.html.tmpl
var htmlSource string

// htmlReport is report.html's template. html/template escapes every value by the context
// it lands in, so scenario names, outputs and requests cannot inject markup.
var htmlReport = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"inc": func(i int) int { return i + 1 },
}).Parse(htmlSource))

// WriteHTML writes the run as report.html: one self-contained page (inline CSS, no script,
// nothing fetched) with the same content as WriteMarkdown, the matrix cells coloured and
// each failed cell linked to its failure.
func WriteHTML(w io.Writer, run *Run) error {
	return htmlReport.Execute(w, newReport(run))
}
