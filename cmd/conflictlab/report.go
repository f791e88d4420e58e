package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/conflictlab/conflictlab/reports"
)

func newReportCommand() *cobra.Command {
	var in, out string
	cmd := &cobra.Command{
		Use:   "report --in DIR --out DIR",
		Short: "Render a results.json again as report.md, report.html and junit.xml",
		Long: `Read the results.json that conflictlab run --out wrote and render the compatibility report
from it again: report.md, report.html, junit.xml (and a copy of results.json) in --out.`,
		Example: `  conflictlab report --in reports/out --out /tmp/report`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in == "" || out == "" {
				return errors.New("--in and --out are both needed")
			}
			path := in
			if info, err := os.Stat(in); err == nil && info.IsDir() {
				path = filepath.Join(in, "results.json")
			}
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			run, err := reports.ReadJSON(f)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := reports.WriteAll(out, run); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\nreport: %s\n", path, run.Counts(), out)
			return nil
		},
	}
	cmd.Flags().StringVar(&in, "in", "", "the results.json, or the directory holding it")
	cmd.Flags().StringVar(&out, "out", "", "where to write the report files")
	return cmd
}
