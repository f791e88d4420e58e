package memory_test

import (
	"context"
	"fmt"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/memory"
	"github.com/conflictlab/conflictlab/internal/odata"
)

// A local write and its operation go in one Update, so a reader sees both or neither; a View
// then queries the rows with the same filter language the server speaks.
func Example() {
	ctx := context.Background()
	s := memory.New()
	defer s.Close()

	err := s.Update(ctx, func(w store.Writer) error {
		for i, text := range []string{"milk", "eggs", "bread"} {
			id := fmt.Sprintf("item-%d", i)
			if err := w.PutRow("TodoItem", map[string]any{"id": id, "text": text, "done": i == 1}); err != nil {
				return err
			}
			seq, err := w.MaxSequence()
			if err != nil {
				return err
			}
			op := store.Operation{ID: "op-" + id, Kind: store.Insert, State: store.Pending, Table: "TodoItem", ItemID: id, Sequence: seq + 1, Version: 1}
			if err := w.PutOperation(op); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		panic(err)
	}

	filter, err := odata.ParseFilter("done eq false")
	if err != nil {
		panic(err)
	}
	orderBy, err := odata.ParseOrderBy("text")
	if err != nil {
		panic(err)
	}
	err = s.View(ctx, func(r store.Reader) error {
		rows, total, err := r.Rows("todoitem", store.Query{Filter: filter, OrderBy: orderBy, Select: []string{"text"}})
		if err != nil {
			return err
		}
		fmt.Println(total, rows)
		ops, err := r.Operations("todoitem")
		if err != nil {
			return err
		}
		for _, op := range ops {
			fmt.Println(op.Sequence, op.Kind, op.ItemID)
		}
		return nil
	})
	if err != nil {
		panic(err)
	}
	// Output:
	// 2 [map[id:item-2 text:bread] map[id:item-0 text:milk]]
	// 1 insert item-0
	// 2 insert item-1
	// 3 insert item-2
}

// An Update whose function fails changes nothing.
func ExampleStore_Update() {
	ctx := context.Background()
	s := memory.New()
	defer s.Close()

	err := s.Update(ctx, func(w store.Writer) error {
		if err := w.SetConfig("deltaToken|todo|all", "2014-06-09T23:40:04.297Z"); err != nil {
			return err
		}
		return fmt.Errorf("the pull page did not arrive")
	})
	fmt.Println(err)
	_ = s.View(ctx, func(r store.Reader) error {
		_, ok, err := r.Config("deltaToken|todo|all")
		fmt.Println("token set:", ok)
		return err
	})
	// Output:
	// the pull page did not arrive
	// token set: false
}
