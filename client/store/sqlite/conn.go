package sqlite

import (
	"context"
	"database/sql"
)

// conn is one SQLite connection kept for the store's life with the statements prepared on it.
// Preparing costs about as much as running a small statement, and a pull runs a few per row, so
// the fixed statements (and those of each rows table) are prepared once per connection.
//
// A conn is used by one transaction at a time: the writer's by the Update holding the writer
// slot, a reader's by the View that took it from the pool; within one, the tx's mutex orders
// the calls.
type conn struct {
	c     *sql.Conn
	stmts map[string]*sql.Stmt
}

func newConn(c *sql.Conn) *conn { return &conn{c: c, stmts: map[string]*sql.Stmt{}} }

// stmt returns query prepared on this connection, preparing it the first time.
func (c *conn) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	st, err := c.c.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.stmts[query] = st
	return st, nil
}

// exec runs a statement kept prepared.
func (c *conn) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// query runs a query kept prepared.
func (c *conn) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow runs a one-row query kept prepared.
func (c *conn) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, query)
	if err != nil {
		// A Row carrying err: QueryRowContext on the Conn would prepare again and fail the same
		// way, which keeps the caller's Scan the one place errors come out.
		return c.c.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// close closes the statements and gives the connection back to its pool, which closes it
// when the pool is closed.
func (c *conn) close() error {
	for _, st := range c.stmts {
		_ = st.Close()
	}
	c.stmts = nil
	return c.c.Close()
}
