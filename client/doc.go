// Package client is a sync client for Azure Mobile Apps–style table servers: the Go
// equivalent of the SDKs' MobileServiceClient, sync context and sync table (docs/semantics.md).
//
// Online, a Client and its Tables insert, update, delete and query rows on the server. Offline,
// a SyncContext over a store (client/store: memory or sqlite) keeps rows and an operation queue
// locally; SyncTable writes go to the queue, collapsing as the SDKs do; Push sends the queue
// with a handler that settles conflicts (ClientWins, ServerWins, CancelPush, or your own);
// Pull pushes first, then pages the server's rows in, incrementally with a query id; Purge
// forgets local rows.
//
//	c, _ := client.New("https://example.azurewebsites.net")
//	sc, _ := client.NewSyncContext(c, memory.New(), client.ClientWins())
//	todo := sc.Table("todoitem")
//	todo.Insert(ctx, client.Item{"id": "e1", "text": "Buy eggs"})
//	err := todo.Pull(ctx, nil, "all") // pushes the insert first
//
// Errors are typed (HTTPError, NetworkError, PushFailedError, TableOperationError) and match
// the sentinels of errors.go with errors.Is.
package client
