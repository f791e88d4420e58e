package client_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/conflictlab/conflictlab/client"
	"github.com/conflictlab/conflictlab/fakeserver"
)

// The seed's conflict, online: the phone inserts an item, another writer changes it, and the
// phone's update with the version it holds fails with 412 and the server's row. Retrying
// with the server's version makes the phone's change win.
func ExampleTable() {
	srv := fakeserver.New(fakeserver.Config{Clock: fakeserver.SimClock(time.Date(2014, 6, 11, 0, 0, 0, 0, time.UTC))})
	ts := srv.Start()
	defer ts.Close()

	c, err := client.New(ts.URL, client.WithInstallationID("phone"))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	todo := c.Table("todoitem")

	row, err := todo.Insert(ctx, client.Item{"id": "e1", "text": "Buy eggs", "complete": false})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("inserted:", row["text"], row["version"], row["updatedAt"])

	// Another device changes the item.
	if _, err := srv.Write("todoitem", "e1", map[string]any{"text": "Buy organic eggs"}); err != nil {
		fmt.Println(err)
		return
	}

	row["text"] = "Buy eggs (6)"
	_, err = todo.Update(ctx, row)
	var conflict *client.HTTPError
	if errors.As(err, &conflict) && errors.Is(err, client.ErrPreconditionFailed) {
		fmt.Println("conflict:", conflict.Status, conflict.ServerItem["text"], conflict.ServerItem["version"])
		row["version"] = conflict.ServerItem["version"] // "use client"
		row, err = todo.Update(ctx, row)
	}
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("updated:", row["text"], row["version"], row["updatedAt"])

	items, err := todo.Query(ctx, client.NewQuery().Where("complete eq false"))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, it := range items {
		fmt.Println("query:", it["id"], it["text"])
	}
	for _, e := range srv.History() {
		fmt.Println("history:", e.Client, e.Op, e.Status)
	}
	// Output:
	// inserted: Buy eggs AAAAAAAAAAE= 2014-06-11T00:00:00.000Z
	// conflict: 412 Buy organic eggs AAAAAAAAAAI=
	// updated: Buy eggs (6) AAAAAAAAAAM= 2014-06-11T00:00:00.002Z
	// query: e1 Buy eggs (6)
	// history: phone insert 201
	// history: server update 200
	// history: phone update 412
	// history: phone update 200
	// history: phone query 200
}

// Paging by hand: QueryPage returns one page and the link to the next, and the count of
// every matching row when the query asks for it. Query follows the links itself.
func ExampleTable_QueryPage() {
	srv := fakeserver.New(fakeserver.Config{Dialect: fakeserver.V1, PageSize: 2,
		Clock: fakeserver.SimClock(time.Date(2014, 6, 11, 0, 0, 0, 0, time.UTC))})
	ts := srv.Start()
	defer ts.Close()
	for i := range 5 {
		if _, err := srv.Insert("todoitem", map[string]any{"id": fmt.Sprintf("e%d", i), "n": i}); err != nil {
			fmt.Println(err)
			return
		}
	}

	c, err := client.New(ts.URL, client.WithDialect(client.V1))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	todo := c.Table("todoitem")
	page, err := todo.QueryPage(ctx, client.NewQuery().Where("n ge 1").IncludeTotalCount())
	for err == nil {
		fmt.Println(len(page.Items), "of", page.Count, "rows; first:", page.Items[0]["id"], page.Items[0]["__version"])
		if page.Next == "" {
			break
		}
		page, err = todo.NextPage(ctx, page.Next)
	}
	if err != nil {
		fmt.Println(err)
	}
	// Output:
	// 2 of 4 rows; first: e1 AAAAAAAAAAI=
	// 2 of 4 rows; first: e3 AAAAAAAAAAQ=
}
