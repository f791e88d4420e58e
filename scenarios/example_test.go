package scenarios_test

import (
	"context"
	"fmt"

	"github.com/conflictlab/conflictlab/scenarios"
)

// Load a scenario file and play it under each of its strategies against a fresh embedded
// server; a result says how the run went, and, when it failed, where and why.
func Example() {
	sc, err := scenarios.LoadFile("catalog/blog-buy-eggs.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, strategy := range sc.Runs() {
		res := scenarios.Run(context.Background(), sc, strategy, scenarios.Options{InMemory: true})
		fmt.Println(sc.Name, strategy, res.Status)
	}
	// Output:
	// blog-buy-eggs client-wins passed
	// blog-buy-eggs server-wins passed
	// blog-buy-eggs cancel passed
}

// A scenario can be written in Go too, as YAML text: Parse checks it as a file would be.
func ExampleParse() {
	sc, err := scenarios.Parse([]byte(`name: one-insert
clients: {phone: {}}
steps:
  - phone: {op: insert, table: todoitem, item: {id: a, text: milk}}
  - phone: {op: push}
    expect: {requests: [POST /tables/todoitem]}
  - check: {server: {todoitem: {a: {text: milk}}}, phone: {pending: 0}}
`), "inline.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	res := scenarios.Run(context.Background(), sc, "", scenarios.Options{InMemory: true})
	fmt.Println(res.Status, res.Steps, "steps")
	// Output: passed 3 steps
}
