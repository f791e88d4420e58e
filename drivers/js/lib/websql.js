'use strict';
// A stand-in for the Cordova SQLite plugin (window.sqlitePlugin, the WebSQL-style API of
// cordova-sqlite-storage) over better-sqlite3, so that the SDK's own MobileServiceSqliteStore
// runs unchanged under Node: its SQL, its serializer, its transactions.
//
// better-sqlite3 is synchronous, so a transaction runs start to end in one turn of the event
// loop: nothing else touches the database in between, which is the isolation WebSQL promises.
// Callbacks are still called asynchronously (after the call that asked for them returns), as
// the plugin does: the SDK's code was written for that.

const Database = require('better-sqlite3');

const MAX_CACHED_STATEMENTS = 256;

class ResultSet {
  constructor(rows, info) {
    const list = rows || [];
    this.rows = { length: list.length, item: (i) => list[i] };
    this.rowsAffected = info ? info.changes : 0;
    if (info && info.lastInsertRowid !== undefined) this.insertId = Number(info.lastInsertRowid);
  }
}

// bindable turns a JavaScript value into one SQLite can bind, as the plugin would.
function bindable(v) {
  if (v === undefined || v === null) return null;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'bigint' || Buffer.isBuffer(v)) return v;
  if (v instanceof Date) return v.getTime();
  return JSON.stringify(v);
}

// namedParameters lists the names of the named parameters (@p1, :a, $b) of a statement in the
// order SQLite numbers them (first appearance), skipping quoted text and identifiers. The
// plugin binds an array of values by position, which SQLite allows for named parameters too;
// better-sqlite3 wants an object for them.
function namedParameters(sql) {
  const names = [];
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '`' || c === '[') {
      const close = c === '[' ? ']' : c;
      i++;
      while (i < sql.length && sql[i] !== close) i++;
      continue;
    }
    if ((c === '@' || c === ':' || c === '$') && /[A-Za-z0-9_]/.test(sql[i + 1] || '')) {
      let j = i + 1;
      while (j < sql.length && /[A-Za-z0-9_]/.test(sql[j])) j++;
      const name = sql.slice(i + 1, j);
      if (!names.includes(name)) names.push(name);
      i = j - 1;
    }
  }
  return names;
}

class Transaction {
  constructor() { this.queue = []; }
  executeSql(sql, params, ok, fail) {
    this.queue.push({ sql, params: params || [], ok, fail });
  }
}

class WebSQLDatabase {
  // path is a file, or ':memory:'.
  constructor(path) {
    this.path = path;
    this.raw = new Database(path);
    if (path !== ':memory:') {
      // Durable on every commit, like the plugin's default (journal in WAL for speed).
      this.raw.pragma('journal_mode = WAL');
      this.raw.pragma('synchronous = FULL');
    }
    this.statements = new Map();
  }

  get closed() { return !this.raw || !this.raw.open; }

  // run executes one statement now and returns its result set.
  run(sql, params) {
    let entry = this.statements.get(sql);
    if (!entry) {
      entry = { st: this.raw.prepare(sql), names: namedParameters(sql) };
      if (this.statements.size >= MAX_CACHED_STATEMENTS) this.statements.clear();
      this.statements.set(sql, entry);
    }
    const { st, names } = entry;
    let args = (params || []).map(bindable);
    if (names.length > 0) {
      const named = {};
      names.forEach((n, i) => { named[n] = i < args.length ? args[i] : null; });
      args = [named];
    }
    if (st.reader) return new ResultSet(st.all(...args));
    return new ResultSet(null, st.run(...args));
  }

  transaction(fn, errorCb, successCb) {
    setImmediate(() => {
      if (this.closed) {
        if (errorCb) errorCb(new Error('the database is closed'));
        return;
      }
      const tx = new Transaction();
      const raw = this.raw;
      try {
        raw.prepare('BEGIN').run();
        fn(tx);
        while (tx.queue.length > 0) {
          const s = tx.queue.shift();
          let rs;
          try {
            rs = this.run(s.sql, s.params);
          } catch (err) {
            // WebSQL: an error callback that returns false has handled the error and the
            // transaction goes on; anything else rolls it back.
            if (s.fail && s.fail(tx, err) === false) continue;
            throw err;
          }
          if (s.ok) s.ok(tx, rs);
        }
        raw.prepare('COMMIT').run();
      } catch (err) {
        if (raw.open && raw.inTransaction) raw.prepare('ROLLBACK').run();
        if (errorCb) errorCb(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (successCb) successCb();
    });
  }

  readTransaction(fn, errorCb, successCb) { this.transaction(fn, errorCb, successCb); }

  // executeSql is the plugin's one-statement shortcut (its callbacks get the result set only).
  executeSql(sql, params, ok, fail) {
    setImmediate(() => {
      let rs;
      try {
        if (this.closed) throw new Error('the database is closed');
        rs = this.run(sql, params);
      } catch (err) {
        if (fail) fail(err);
        return;
      }
      if (ok) ok(rs);
    });
  }

  close(ok, fail) {
    setImmediate(() => {
      try {
        this.statements.clear();
        if (!this.closed) this.raw.close();
      } catch (err) {
        if (fail) fail(err);
        return;
      }
      if (ok) ok();
    });
  }
}

// sqlitePlugin is what the SDK's store finds at window.sqlitePlugin. The database's name is
// the file's path (the plugin would put it in the app's storage), or ':memory:'.
const sqlitePlugin = {
  openDatabase(options, ok, fail) {
    const name = typeof options === 'string' ? options : options && options.name;
    let db;
    try {
      db = new WebSQLDatabase(name);
    } catch (err) {
      setImmediate(() => fail && fail(err));
      return undefined;
    }
    setImmediate(() => ok && ok(db));
    return db;
  },
};

module.exports = { sqlitePlugin, WebSQLDatabase };
