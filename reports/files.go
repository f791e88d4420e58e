package reports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The files WriteAll writes, each with its renderer, in the order written: results.json
// first, since every other form can be made again from it.
var reportFiles = []struct {
	name  string
	write func(w io.Writer, run *Run, linkBase string) error
}{
	{"results.json", func(w io.Writer, run *Run, _ string) error { return WriteJSON(w, run) }},
	{"report.md", func(w io.Writer, run *Run, _ string) error { return WriteMarkdown(w, run) }},
	{"report.html", writeHTML},
	{"junit.xml", func(w io.Writer, run *Run, _ string) error { return WriteJUnit(w, run) }},
}

// WriteAll writes results.json, report.md, report.html and junit.xml into dir, creating it,
// from the run bounded by its Limits (Bounded): every file shows the same histories.
// report.html links scenario files from dir, taking their paths as relative to the current
// directory. Each file is written to a temporary file in dir and renamed into place, so a
// reader never sees half a report and a failed write leaves the previous file as it was. A
// file that cannot be written does not stop the others; the error names every file that
// failed.
func WriteAll(dir string, run *Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	run = run.Bounded()
	linkBase := ""
	if abs, err := filepath.Abs(dir); err == nil {
		if wd, err := os.Getwd(); err == nil {
			if rel, err := filepath.Rel(abs, wd); err == nil {
				linkBase = filepath.ToSlash(rel)
			}
		}
	}
	var errs []error
	for _, f := range reportFiles {
		path := filepath.Join(dir, f.name)
		if err := writeFileAtomic(path, func(w io.Writer) error { return f.write(w, run, linkBase) }); err != nil {
			errs = append(errs, fmt.Errorf("reports: writing %s: %w", path, err))
		}
	}
	return errors.Join(errs...)
}

// writeFileAtomic writes path through a temporary file in the same directory, renamed over
// path once complete and synced; on any failure the temporary file is removed.
func writeFileAtomic(path string, write func(io.Writer) error) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	buf := bufio.NewWriter(tmp)
	if err := write(buf); err != nil {
		return err
	}
	if err := buf.Flush(); err != nil {
		return err
	}
	// CreateTemp makes the file private; a report is for everyone who can read the directory.
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
