package scenarios_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/conflictlab/conflictlab/scenarios"
)

// FuzzParse throws arbitrary text at the loader and checks what it promises whatever a file
// holds: no panic, and either a *LoadError naming the file, or a scenario with a name and at
// least one step that the JSON Schema for editors takes too (docs/scenario.schema.json must
// never flag a file the loader plays). The catalogue and a few files using YAML's shorthands
// are the seeds.
//
//	go test -run='^$' -fuzz=FuzzParse -fuzztime=60s ./scenarios
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("catalog", "*.yaml"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no catalogue to seed from: %v", err)
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	for _, s := range []string{
		"name: a\nsteps:\n  - &s {check: {}}\n  - *s\n",
		"name: a\nclients: {p: &d {store: memory}, q: *d}\nsteps: [{p: {op: insert, table: t, item: &i {id: e1}}}, {q: {op: update, table: t, item: {<<: *i, x: 1}}}]\n",
		"name: a\nstrategies: lazy\nsteps: [{check: {}}]\n",
		"name: a\nrequires: luck\nsteps: [{check: {}}]\n",
		"name: a\nrequires: [faults, clock]\nstrategies: cancel\nsteps: [{check: {}}]\n",
		"name: a\nclients: {p: {client: go, strategy: cancel, options: {maxTries: 2}}}\nsteps: [{check: {}}]\n",
		"name: a\nsteps: &s [*s]\n",
		"name: [x\n",
	} {
		f.Add(s)
	}
	sch, err := loadSchema()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		sc, err := scenarios.Parse([]byte(text), "f.yaml")
		if err != nil {
			var le *scenarios.LoadError
			if !errors.As(err, &le) || le.File != "f.yaml" {
				t.Fatalf("error %v (%T) is not a *LoadError naming the file", err, err)
			}
			return
		}
		if sc.Name == "" || len(sc.Steps) == 0 {
			t.Fatalf("loaded a scenario with no name or no steps: %+v", sc)
		}
		v, err := jsonValue(text)
		if err != nil {
			t.Fatalf("the loader takes what the yaml package cannot decode: %v", err)
		}
		if err := sch.Validate(v); err != nil {
			t.Fatalf("the loader takes it, the schema does not: %v", err)
		}
	})
}
