'use strict';
// The local store of a device: the SDK's own MobileServiceSqliteStore (the Cordova SDK's
// store, unchanged) on better-sqlite3 through the WebSQL stand-in, behind a thin layer that
// gives it a schema.
//
// Why a layer: the SDK's store keeps only the columns a table was defined with (an app
// declares them: {id: 'string', text: 'string', complete: 'boolean', …}) and silently drops
// any other property. conflictlab's scenarios name no schema, so the layer defines a user
// table on first use with the SDK's system columns, and adds a column the first time a
// non-null value of a property reaches the store, typed by that value as an app would have
// declared it. Everything else (serialising, SQL, transactions, queries) is the SDK's code.
//
// The columns it adds are added here, untyped (SQLite's BLOB affinity keeps every value as
// it is bound), and the SDK's defineTable then only learns their types: its own ALTER TABLE
// would give a column its ColumnType name as SQLite type ("string" has NUMERIC affinity,
// which turns '123' into 123), a flaw that only shows in a schema that grows. The column
// types are kept in a table of ours, __conflictlab_columns, so that a reopened store knows
// them again.

// The SDK is loaded before window exists: node-uuid (its id generator) takes a browser's
// path when it sees a window, and would fall back to Math.random.
const { Query } = require('azure-mobile-apps-client');
const MobileServiceSqliteStore = require('azure-mobile-apps-client/sdk/src/Platform/cordova/MobileServiceSqliteStore');
const { sqlitePlugin } = require('./websql');

// The store finds the plugin at window.sqlitePlugin when it opens a database.
global.window = global.window || { crypto: require('crypto').webcrypto };
global.window.sqlitePlugin = sqlitePlugin;

const META = '__conflictlab_columns';
const OPERATIONS = '__operations';
const PULLTIME = '__pulltime';

// The SDK's system columns (constants.table.sysProps), as an app declares them: dates as
// 'date', which is what the SDK's JSON reader makes of them.
const SYSTEM_COLUMNS = { id: 'string', version: 'string', createdAt: 'date', updatedAt: 'date', deleted: 'boolean' };

// columnType is the SDK ColumnType an app would declare for a value.
function columnType(v) {
  if (v === null || v === undefined) return undefined;
  if (v instanceof Date) return 'date';
  if (Array.isArray(v)) return 'array';
  switch (typeof v) {
    case 'boolean': return 'boolean';
    case 'number': return 'real';
    case 'string': return 'string';
    case 'object': return 'object';
    default: return undefined;
  }
}

function quoteName(name) { return '[' + String(name).replace(/]/g, ']]') + ']'; }

class SchemaStore {
  // open opens (or reopens) the store at path (':memory:' for a store in memory).
  static async open(path) {
    const inner = new MobileServiceSqliteStore(path);
    await inner.init();
    const s = new SchemaStore(inner, inner._db.raw);
    await s.restore();
    return s;
  }

  constructor(inner, raw) {
    this.inner = inner;
    this.raw = raw;
    // lower-case table name -> {name, columns: {column: type}, physical: Set(lower-case column)}
    this.tables = new Map();
    this.pendingDefines = new Map();
  }

  async restore() {
    this.raw.exec(`CREATE TABLE IF NOT EXISTS ${META} (tableName TEXT NOT NULL, columnName TEXT NOT NULL,
      columnType TEXT NOT NULL, PRIMARY KEY (tableName, columnName))`);
    const byTable = new Map();
    for (const r of this.raw.prepare(`SELECT tableName, columnName, columnType FROM ${META}`).all()) {
      if (!byTable.has(r.tableName)) byTable.set(r.tableName, {});
      byTable.get(r.tableName)[r.columnName] = r.columnType;
    }
    for (const [name, columns] of byTable) {
      const def = { name, columns: { ...SYSTEM_COLUMNS, ...columns }, physical: this.physicalColumns(name) };
      this.tables.set(name.toLowerCase(), def);
      await this.inner.defineTable({ name, columnDefinitions: { ...def.columns } });
    }
  }

  physicalColumns(name) {
    const cols = new Set();
    for (const c of this.raw.prepare(`PRAGMA table_info(${quoteName(name)})`).all()) cols.add(c.name.toLowerCase());
    return cols;
  }

  // has reports whether a user table is defined.
  has(table) { return this.tables.has(String(table).toLowerCase()); }

  // nameOf is the table's name as first defined (the SDK's SQL is case-insensitive on names).
  definition(table) { return this.tables.get(String(table).toLowerCase()); }

  // ensureTable defines a user table (with the system columns) the first time it is named.
  async ensureTable(table) {
    const key = String(table).toLowerCase();
    if (this.tables.has(key)) return;
    if (this.pendingDefines.has(key)) return this.pendingDefines.get(key);
    const p = (async () => {
      const columns = { ...SYSTEM_COLUMNS };
      await this.inner.defineTable({ name: table, columnDefinitions: { ...columns } });
      const def = { name: table, columns, physical: this.physicalColumns(table) };
      const put = this.raw.prepare(`INSERT OR REPLACE INTO ${META} (tableName, columnName, columnType) VALUES (?, ?, ?)`);
      this.raw.transaction(() => {
        for (const [c, t] of Object.entries(columns)) put.run(table, c, t);
      })();
      this.tables.set(key, def);
    })();
    this.pendingDefines.set(key, p);
    try {
      await p;
    } finally {
      this.pendingDefines.delete(key);
    }
  }

  // typeOf is the declared type of a column of a user table (undefined: not declared).
  typeOf(table, column) {
    const def = this.definition(table);
    if (!def) return undefined;
    const lc = String(column).toLowerCase();
    for (const [c, t] of Object.entries(def.columns)) if (c.toLowerCase() === lc) return t;
    return undefined;
  }

  // ensureColumns declares the properties of records that the table does not have yet.
  async ensureColumns(table, records) {
    const def = this.definition(table);
    if (!def) return; // the SDK's own tables, or one the SDK will refuse anyway
    const added = [];
    for (const rec of records) {
      if (!rec || typeof rec !== 'object') continue;
      for (const [k, v] of Object.entries(rec)) {
        if (this.typeOf(table, k) !== undefined || added.some(([c]) => c.toLowerCase() === k.toLowerCase())) continue;
        const t = columnType(v);
        if (t) added.push([k, t]);
      }
    }
    if (added.length === 0) return;
    const put = this.raw.prepare(`INSERT OR REPLACE INTO ${META} (tableName, columnName, columnType) VALUES (?, ?, ?)`);
    for (const [c, t] of added) {
      this.addPhysical(def, c);
      def.columns[c] = t;
      put.run(def.name, c, t);
    }
    await this.inner.defineTable({ name: def.name, columnDefinitions: { ...def.columns } });
  }

  addPhysical(def, column) {
    if (def.physical.has(column.toLowerCase())) return;
    this.raw.exec(`ALTER TABLE ${quoteName(def.name)} ADD COLUMN ${quoteName(column)}`);
    def.physical.add(column.toLowerCase());
  }

  // withColumns runs a query, adding (untyped) a column it names that no row has had yet:
  // a filter on a property the table has never seen matches what a NULL column matches.
  async withColumns(table, run) {
    for (let tries = 0; ; tries++) {
      try {
        return await run();
      } catch (err) {
        const m = /no such column: ([^\s]+)/.exec(err && err.message);
        const def = this.definition(table);
        if (!m || !def || tries > 50 || def.physical.has(m[1].toLowerCase())) throw err;
        this.addPhysical(def, m[1]);
      }
    }
  }

  // The MobileServiceStore interface, as the SDK calls it.

  defineTable(tableDefinition) { return this.inner.defineTable(tableDefinition); }

  async upsert(tableName, data) {
    await this.ensureColumns(tableName, Array.isArray(data) ? data : [data]);
    return this.inner.upsert(tableName, data);
  }

  lookup(tableName, id, suppressRecordNotFoundError) {
    return this.inner.lookup(tableName, id, suppressRecordNotFoundError);
  }

  del(tableNameOrQuery, ids) {
    if (tableNameOrQuery && typeof tableNameOrQuery === 'object' && tableNameOrQuery.getComponents) {
      const table = tableNameOrQuery.getComponents().table;
      return this.withColumns(table, () => this.inner.del(tableNameOrQuery, ids));
    }
    return this.inner.del(tableNameOrQuery, ids);
  }

  read(query) {
    const table = query && query.getComponents ? query.getComponents().table : undefined;
    return this.withColumns(table, () => this.inner.read(query));
  }

  async executeBatch(operations) {
    if (Array.isArray(operations)) {
      for (const op of operations) {
        if (op && typeof op.action === 'string' && op.action.toLowerCase() === 'upsert') {
          await this.ensureColumns(op.tableName, Array.isArray(op.data) ? op.data : [op.data]);
        }
      }
    }
    return this.inner.executeBatch(operations);
  }

  close() { return this.inner.close(); }

  // Reads for snapshots, through the SDK's store (its deserialiser).

  async rows(table) {
    const def = this.definition(table);
    if (!def) return [];
    return this.read(new Query(def.name));
  }

  operations() { return this.inner.read(new Query(OPERATIONS).orderBy('id')); }

  deltaTokens() { return this.inner.read(new Query(PULLTIME)); }
}

module.exports = { SchemaStore, SYSTEM_COLUMNS, OPERATIONS, PULLTIME, columnType };
