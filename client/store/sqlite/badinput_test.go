package sqlite_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/conflictlab/conflictlab/client/store"
	"github.com/conflictlab/conflictlab/client/store/sqlite"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// kinds are the sentinels an *OpenError may carry, by name, so that a child process can say
// which it got.
var kinds = map[string]error{
	"ErrCannotOpen":  sqlite.ErrCannotOpen,
	"ErrReadOnly":    sqlite.ErrReadOnly,
	"ErrLocked":      sqlite.ErrLocked,
	"ErrCorrupt":     sqlite.ErrCorrupt,
	"ErrNewerSchema": sqlite.ErrNewerSchema,
}

// kindName names the sentinel err wraps: "" for nil, "other" for none of them.
func kindName(err error) string {
	if err == nil {
		return ""
	}
	for name, k := range kinds {
		if errors.Is(err, k) {
			return name
		}
	}
	return "other"
}

// fileState is what a refused Open must leave alone: the bytes of the file and the names in
// its directory (no -wal or -shm left behind either).
type fileState struct {
	Data  []byte
	Names []string
}

func stateOf(path string) fileState {
	GinkgoHelper()
	data, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	entries, err := os.ReadDir(filepath.Dir(path))
	Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return fileState{Data: data, Names: names}
}

// rawDB opens the file with the driver alone, as another application would.
func rawDB(path string) *sql.DB {
	GinkgoHelper()
	db, err := sql.Open("sqlite", path)
	Expect(err).NotTo(HaveOccurred())
	db.SetMaxOpenConns(1)
	DeferCleanup(db.Close)
	return db
}

// seeded makes a store at path holding a row, an operation, an error and a config value, and
// closes it.
func seeded(path string) {
	GinkgoHelper()
	s, err := sqlite.Open(path)
	Expect(err).NotTo(HaveOccurred())
	Expect(s.Update(context.Background(), func(w store.Writer) error {
		return errors.Join(
			w.PutRow("todo", map[string]any{"id": "a", "text": "milk"}),
			w.PutOperation(store.Operation{ID: "op1", Kind: store.Insert, State: store.Pending, Table: "todo", ItemID: "a", Sequence: 1, Version: 1}),
			w.PutError(store.OperationError{OperationID: "op1", Status: 500}),
			w.SetConfig("k", "v"),
		)
	})).To(Succeed())
	Expect(s.Close()).To(Succeed())
}

var _ = Describe("Open", func() {
	var dir string
	BeforeEach(func() { dir = GinkgoT().TempDir() })

	// refused opens path, expects an *OpenError of kind, and checks that the file is as it was.
	refused := func(path string, kind error, opts ...sqlite.Option) *sqlite.OpenError {
		GinkgoHelper()
		before := stateOf(path)
		s, err := sqlite.Open(path, opts...)
		if s != nil {
			s.Close()
		}
		Expect(err).To(MatchError(kind))
		var oe *sqlite.OpenError
		Expect(errors.As(err, &oe)).To(BeTrue(), "an *OpenError: %v", err)
		Expect(oe.Path).To(Equal(path))
		Expect(stateOf(path)).To(Equal(before), "the file and its directory are untouched")
		return oe
	}

	It("creates a store in a new file, and opens it again", func() {
		path := filepath.Join(dir, "new.db")
		seeded(path)
		s, err := sqlite.Open(path)
		Expect(err).NotTo(HaveOccurred())
		defer s.Close()
		Expect(s.Path()).To(Equal(path))
		Expect(s.View(context.Background(), func(r store.Reader) error {
			Expect(r.Row("TODO", "A")).To(HaveKeyWithValue("text", "milk"))
			return nil
		})).To(Succeed())
	})

	DescribeTable("refuses a path it cannot open",
		func(makePath func(dir string) string, reason string) {
			path := makePath(dir)
			_, err := sqlite.Open(path)
			Expect(err).To(MatchError(sqlite.ErrCannotOpen))
			Expect(err).To(MatchError(ContainSubstring(reason)))
		},
		Entry("a directory", func(dir string) string { return dir }, "it is a directory"),
		Entry("a file in a missing directory", func(dir string) string { return filepath.Join(dir, "missing", "store.db") }, "cannot be used"),
		Entry("a file under a file", func(dir string) string {
			f := filepath.Join(dir, "file")
			Expect(os.WriteFile(f, nil, 0o644)).To(Succeed())
			return filepath.Join(f, "store.db")
		}, "not a directory"),
		Entry("no path at all", func(string) string { return "" }, "no path"),
	)

	It("creates nothing when the directory is missing", func() {
		_, err := sqlite.Open(filepath.Join(dir, "missing", "store.db"))
		Expect(err).To(MatchError(sqlite.ErrCannotOpen))
		Expect(os.ReadDir(dir)).To(BeEmpty())
	})

	DescribeTable("refuses a file that is not a store, and leaves it as it was",
		func(content func() []byte, reason string) {
			path := filepath.Join(dir, "store.db")
			Expect(os.WriteFile(path, content(), 0o644)).To(Succeed())
			oe := refused(path, sqlite.ErrCorrupt)
			Expect(oe.Reason).To(ContainSubstring(reason))
		},
		Entry("random bytes", func() []byte { return randomBytes(8192) }, "SQLite header"),
		Entry("text", func() []byte { return []byte("id,text\na,milk\n") }, "SQLite header"),
		Entry("a truncated header", func() []byte { return []byte("SQLite format 3\x00\x10\x00") }, "SQLite header"),
		Entry("the SQLite header followed by garbage", func() []byte {
			return append([]byte("SQLite format 3\x00"), randomBytes(8192)...)
		}, ""),
	)

	It("refuses a store whose pages are damaged, and leaves it as it was", func() {
		path := filepath.Join(dir, "store.db")
		seeded(path)
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		Expect(err).NotTo(HaveOccurred())
		// Page 1 after the 100-byte file header holds the schema's b-tree.
		_, err = f.WriteAt(randomBytes(3000), 100)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Close()).To(Succeed())
		refused(path, sqlite.ErrCorrupt)
	})

	It("opens a store damaged beyond its schema, and its reads of the damage fail with ErrCorrupt", func() {
		path := filepath.Join(dir, "store.db")
		seeded(path)
		db := rawDB(path)
		var root, pageSize int64
		Expect(db.QueryRow("SELECT rootpage FROM sqlite_schema WHERE name = 'rows_1'").Scan(&root)).To(Succeed())
		Expect(db.QueryRow("PRAGMA page_size").Scan(&pageSize)).To(Succeed())
		Expect(db.Close()).To(Succeed())
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		Expect(err).NotTo(HaveOccurred())
		_, err = f.WriteAt(randomBytes(int(pageSize)), (root-1)*pageSize)
		Expect(err).NotTo(HaveOccurred())
		Expect(f.Close()).To(Succeed())

		s, err := sqlite.Open(path)
		Expect(err).NotTo(HaveOccurred())
		defer s.Close()
		ctx := context.Background()
		err = s.View(ctx, func(r store.Reader) error {
			_, _, err := r.Rows("todo", store.Query{})
			return err
		})
		Expect(err).To(MatchError(sqlite.ErrCorrupt))
		Expect(s.View(ctx, func(r store.Reader) error {
			_, err := r.Operation("op1")
			return err
		})).To(Succeed(), "the rest of the store reads")
	})

	It("refuses another application's database, and leaves it as it was", func() {
		path := filepath.Join(dir, "other.db")
		db := rawDB(path)
		_, err := db.Exec("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('ada')")
		Expect(err).NotTo(HaveOccurred())
		Expect(db.Close()).To(Succeed())
		oe := refused(path, sqlite.ErrCorrupt)
		Expect(oe.Reason).To(ContainSubstring("not a conflictlab store"))
	})

	It("refuses a store of a newer schema, and leaves it as it was", func() {
		path := filepath.Join(dir, "store.db")
		seeded(path)
		db := rawDB(path)
		_, err := db.Exec(fmt.Sprintf("UPDATE meta SET value = '%d' WHERE key = 'schema_version'", sqlite.SchemaVersion+1))
		Expect(err).NotTo(HaveOccurred())
		Expect(db.Close()).To(Succeed())
		oe := refused(path, sqlite.ErrNewerSchema)
		Expect(oe.Reason).To(ContainSubstring(fmt.Sprintf("schema version %d", sqlite.SchemaVersion+1)))
		Expect(oe.Error()).To(ContainSubstring(path))
	})

	It("migrates a new, empty file to the current schema", func() {
		path := filepath.Join(dir, "store.db")
		Expect(os.WriteFile(path, nil, 0o644)).To(Succeed())
		s, err := sqlite.Open(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Update(context.Background(), func(w store.Writer) error { return w.SetConfig("k", "v") })).To(Succeed())
		Expect(s.Close()).To(Succeed())
		Expect(schemaVersion(path)).To(Equal(sqlite.SchemaVersion))
	})

	It("migrates an empty SQLite database (version 0) to the current schema", func() {
		path := filepath.Join(dir, "store.db")
		db := rawDB(path)
		_, err := db.Exec("PRAGMA user_version = 0; VACUUM")
		Expect(err).NotTo(HaveOccurred())
		Expect(db.Close()).To(Succeed())
		s, err := sqlite.Open(path)
		Expect(err).NotTo(HaveOccurred())
		Expect(s.Close()).To(Succeed())
		Expect(schemaVersion(path)).To(Equal(sqlite.SchemaVersion))
	})

	Describe("a locked file", func() {
		It("makes an Update fail with ErrLocked after the busy timeout, and reads go on", func() {
			path := filepath.Join(dir, "store.db")
			seeded(path)
			s, err := sqlite.Open(path, sqlite.BusyTimeout(100*time.Millisecond))
			Expect(err).NotTo(HaveOccurred())
			defer s.Close()

			other := rawDB(path)
			ctx := context.Background()
			lock, err := other.Conn(ctx)
			Expect(err).NotTo(HaveOccurred())
			_, err = lock.ExecContext(ctx, "BEGIN EXCLUSIVE")
			Expect(err).NotTo(HaveOccurred())

			start := time.Now()
			ran := false
			err = s.Update(ctx, func(w store.Writer) error { ran = true; return w.SetConfig("k", "changed") })
			Expect(err).To(MatchError(sqlite.ErrLocked))
			Expect(time.Since(start)).To(BeNumerically(">=", 90*time.Millisecond), "it waited for the busy timeout")
			Expect(ran).To(BeFalse())
			Expect(s.View(ctx, func(r store.Reader) error {
				v, _, err := r.Config("k")
				Expect(v).To(Equal("v"))
				return err
			})).To(Succeed(), "WAL readers are not blocked by the writer's lock")

			// Opening the store again needs no write: it works while the lock is held.
			again, err := sqlite.Open(path, sqlite.BusyTimeout(100*time.Millisecond))
			Expect(err).NotTo(HaveOccurred())
			Expect(again.Close()).To(Succeed())

			_, err = lock.ExecContext(ctx, "ROLLBACK")
			Expect(err).NotTo(HaveOccurred())
			Expect(lock.Close()).To(Succeed())
			Expect(s.Update(ctx, func(w store.Writer) error { return w.SetConfig("k", "changed") })).To(Succeed())
		})

		It("makes an Update give up when its context ends before the busy timeout", func() {
			path := filepath.Join(dir, "store.db")
			seeded(path)
			s, err := sqlite.Open(path, sqlite.BusyTimeout(time.Minute))
			Expect(err).NotTo(HaveOccurred())
			defer s.Close()
			ctx := context.Background()
			lock, err := rawDB(path).Conn(ctx)
			Expect(err).NotTo(HaveOccurred())
			defer lock.Close()
			_, err = lock.ExecContext(ctx, "BEGIN EXCLUSIVE")
			Expect(err).NotTo(HaveOccurred())
			defer lock.ExecContext(ctx, "ROLLBACK")

			short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			defer cancel()
			start := time.Now()
			Expect(s.Update(short, func(w store.Writer) error { return nil })).To(MatchError(context.DeadlineExceeded))
			Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
		})

		It("refuses to create a store in a file another connection holds locked, and leaves it as it was", func() {
			path := filepath.Join(dir, "store.db")
			ctx := context.Background()
			lock, err := rawDB(path).Conn(ctx)
			Expect(err).NotTo(HaveOccurred())
			defer lock.Close()
			// A new file is in rollback-journal mode: an exclusive lock keeps readers out too.
			_, err = lock.ExecContext(ctx, "BEGIN EXCLUSIVE")
			Expect(err).NotTo(HaveOccurred())
			defer lock.ExecContext(ctx, "ROLLBACK")
			refused(path, sqlite.ErrLocked, sqlite.BusyTimeout(50*time.Millisecond))
		})
	})

	Describe("a read-only file", func() {
		// Open refuses it up front (ErrReadOnly) rather than opening it and failing at the first
		// write: a store that cannot record a local write is of no use to the sync client.
		DescribeTable("is refused with ErrReadOnly and left as it was",
			func(fileMode, dirMode os.FileMode) {
				ro := worldDir()
				path := filepath.Join(ro, "store.db")
				seeded(path)
				Expect(os.Chmod(path, fileMode)).To(Succeed())
				Expect(os.Chmod(ro, dirMode)).To(Succeed())
				DeferCleanup(os.Chmod, ro, os.FileMode(0o755))
				before := stateOf(path)
				kind, message := openElsewhere(path)
				Expect(kind).To(Equal("ErrReadOnly"), message)
				Expect(stateOf(path)).To(Equal(before))
			},
			Entry("the file and its directory", os.FileMode(0o444), os.FileMode(0o555)),
			Entry("the file only", os.FileMode(0o444), os.FileMode(0o755)),
			Entry("the directory only: no room for the -wal and -shm files", os.FileMode(0o644), os.FileMode(0o555)),
		)

		It("is refused when the store would be created in a read-only directory", func() {
			ro := worldDir()
			Expect(os.Chmod(ro, 0o555)).To(Succeed())
			DeferCleanup(os.Chmod, ro, os.FileMode(0o755))
			kind, message := openElsewhere(filepath.Join(ro, "store.db"))
			Expect(kind).To(Equal("ErrReadOnly"), message)
			Expect(os.ReadDir(ro)).To(BeEmpty())
		})
	})
})

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// schemaVersion reads a closed store's schema version with the driver alone.
func schemaVersion(path string) int {
	GinkgoHelper()
	db := rawDB(path)
	var v int
	Expect(db.QueryRow("SELECT value FROM meta WHERE key = 'schema_version'").Scan(&v)).To(Succeed())
	Expect(db.Close()).To(Succeed())
	return v
}

// worldDir is a new directory that any user may enter, for stores that a child process
// running as another user opens.
func worldDir() string {
	GinkgoHelper()
	dir, err := os.MkdirTemp("", "sqlite-store-test-*")
	Expect(err).NotTo(HaveOccurred())
	Expect(os.Chmod(dir, 0o755)).To(Succeed())
	DeferCleanup(os.RemoveAll, dir)
	ro := filepath.Join(dir, "ro")
	Expect(os.Mkdir(ro, 0o755)).To(Succeed())
	return ro
}

// childEnv names the variable that makes the test binary a child that opens one store.
const childEnv = "SQLITE_STORE_TEST_OPEN"

// openElsewhere opens path as an unprivileged user and returns the kind of error Open
// returned ("" for none) and its message. File modes do not stop root, so when the tests run
// as root the open happens in a child process running as nobody; elsewhere it happens here.
func openElsewhere(path string) (kind, message string) {
	GinkgoHelper()
	if os.Geteuid() != 0 {
		s, err := sqlite.Open(path)
		if s != nil {
			s.Close()
		}
		return kindName(err), fmt.Sprint(err)
	}
	bin := worldCopyOfTestBinary()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		Skip(fmt.Sprintf("running as root and cannot run a child as nobody to check file modes: %v: %s", err, out))
	}
	kind, message, _ = strings.Cut(strings.TrimSpace(string(out)), " ")
	if kind == "ok" {
		kind = ""
	}
	return kind, message
}

// worldCopyOfTestBinary copies the running test binary where nobody may run it.
func worldCopyOfTestBinary() string {
	GinkgoHelper()
	self, err := os.Executable()
	Expect(err).NotTo(HaveOccurred())
	dir, err := os.MkdirTemp("", "sqlite-store-test-bin-*")
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(os.RemoveAll, dir)
	Expect(os.Chmod(dir, 0o755)).To(Succeed())
	src, err := os.Open(self)
	Expect(err).NotTo(HaveOccurred())
	defer src.Close()
	bin := filepath.Join(dir, "sqlite.test")
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	Expect(err).NotTo(HaveOccurred())
	_, err = io.Copy(dst, src)
	Expect(err).NotTo(HaveOccurred())
	Expect(dst.Close()).To(Succeed())
	return bin
}

// openAsChild is the child's side of openElsewhere: it prints the kind of error and the
// message.
func openAsChild(path string) {
	s, err := sqlite.Open(path)
	if s != nil {
		s.Close()
	}
	kind := kindName(err)
	if kind == "" {
		kind = "ok"
	}
	fmt.Println(kind, err)
}
