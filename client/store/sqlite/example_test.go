package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/sqlite"
	"github.com/conflictlab/conflictlab/internal/odata"
)

// A store opened on a file keeps what each Update committed, and a later Open finds it there.
func Example() {
	dir, err := os.MkdirTemp("", "sqlite-example-*")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "todo.db")
	ctx := context.Background()

	s, err := sqlite.Open(path)
	if err != nil {
		panic(err)
	}
	// A local write and its operation commit together, or not at all.
	err = s.Update(ctx, func(w store.Writer) error {
		if err := w.PutRow("TodoItem", map[string]any{"id": "item-1", "text": "milk", "done": false}); err != nil {
			return err
		}
		return w.PutOperation(store.Operation{ID: "op-1", Kind: store.Insert, State: store.Pending, Table: "TodoItem", ItemID: "item-1", Sequence: 1, Version: 1})
	})
	if err != nil {
		panic(err)
	}
	if err := s.Close(); err != nil {
		panic(err)
	}

	s, err = sqlite.Open(path)
	if err != nil {
		panic(err)
	}
	defer s.Close()
	filter, err := odata.ParseFilter("done eq false")
	if err != nil {
		panic(err)
	}
	err = s.View(ctx, func(r store.Reader) error {
		rows, total, err := r.Rows("todoitem", store.Query{Filter: filter})
		if err != nil {
			return err
		}
		fmt.Println(total, rows)
		op, err := r.OperationFor("todoitem", "ITEM-1")
		fmt.Println(op.Kind, op.ItemID)
		return err
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// 1 [map[done:false id:item-1 text:milk]]
	// insert item-1
}

// Open refuses a file it cannot use with an *OpenError that says why, and leaves the file as
// it was.
func ExampleOpen_notAStore() {
	dir, err := os.MkdirTemp("", "sqlite-example-*")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(path, []byte("buy milk\n"), 0o644); err != nil {
		panic(err)
	}

	_, err = sqlite.Open(path)
	var oe *sqlite.OpenError
	fmt.Println(errors.Is(err, sqlite.ErrCorrupt), errors.As(err, &oe) && oe.Reason != "")
	data, _ := os.ReadFile(path)
	fmt.Printf("%q\n", data)
	// Output:
	// true true
	// "buy milk\n"
}
