package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/conflictlab/conflictlab/reports"
)

func newReportCommand() *cobra.Command {
	var ins []string
	var out string
	cmd := &cobra.Command{
		Use:   "report --in DIR [--in DIR]... --out DIR",
		Short: "Render one or more results.json as report.md, report.html and junit.xml, side by side",
		Long: `Read the results.json that conflictlab run --out (or fuzz --out) wrote and render the
compatibility report from it again: results.json, report.md, report.html and junit.xml in --out.

With several --in, the result sets are put side by side: each target × client gets its own
column under each strategy (embedded against a real backend, the Go client against the JS
SDK), cells that differ between them are marked, and the shards of one property campaign
(--shard i/n) are merged into one campaign. Sets that neither the target nor the client
tells apart are named for their directory, or for NAME in --in NAME=DIR.`,
		Example: `  conflictlab report --in reports/out --out /tmp/report
  conflictlab report --in out/embedded --in out/node --out out/compare
  conflictlab report --in go=out/go --in js=out/js --out out/clients
  conflictlab report --in shard-0 --in shard-1 --in shard-2 --out out/campaign`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(ins) == 0 || out == "" {
				return errors.New("--in and --out are both needed")
			}
			var sets []reports.Set
			seen := map[string]string{}
			for _, in := range ins {
				name, path, err := resultsPath(in)
				if err != nil {
					return err
				}
				if abs, err := filepath.Abs(path); err == nil {
					if prev, ok := seen[abs]; ok {
						return fmt.Errorf("--in %s: the same results.json as --in %s", in, prev)
					}
					seen[abs] = in
				}
				run, err := readResults(path)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s", path, run.Counts())
				if n := len(run.Campaigns); n > 0 {
					fmt.Fprintf(cmd.OutOrStdout(), ", %d campaign(s)", n)
				}
				fmt.Fprintln(cmd.OutOrStdout())
				sets = append(sets, reports.Set{Name: name, Path: path, Run: run})
			}
			run := sets[0].Run
			if len(sets) > 1 {
				var err error
				prov := reports.NewProvenance(append([]string{"conflictlab"}, os.Args[1:]...), time.Now().UTC())
				if run, err = reports.Merge(prov, sets...); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "together: %s\n", run.Counts())
			}
			if err := reports.WriteAll(out, run); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "report: %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&ins, "in", nil, "a results.json, or the directory holding it; NAME=DIR names the set (repeat to compare or merge)")
	cmd.Flags().StringVar(&out, "out", "", "where to write the report files")
	return cmd
}

// resultsPath reads an --in value: DIR, a results.json, or NAME=either. The name defaults
// to the directory's name.
func resultsPath(in string) (name, path string, err error) {
	path = in
	if _, statErr := os.Stat(in); statErr != nil {
		if n, p, ok := strings.Cut(in, "="); ok && n != "" && !strings.ContainsRune(n, filepath.Separator) {
			name, path = n, p
		}
	}
	info, err := os.Stat(path)
	if err != nil {
		return "", "", fmt.Errorf("--in %s: %w", in, err)
	}
	if info.IsDir() {
		path = filepath.Join(path, "results.json")
	}
	if name == "" {
		name = filepath.Base(filepath.Dir(path))
		if abs, err := filepath.Abs(path); err == nil {
			name = filepath.Base(filepath.Dir(abs))
		}
	}
	return name, path, nil
}

// readResults reads one results.json.
func readResults(path string) (*reports.Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	run, err := reports.ReadJSON(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return run, nil
}
