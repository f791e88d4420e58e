'use strict';
// The stand-in for the Cordova SQLite plugin: the SDK's store relies on its transactions being
// all-or-nothing (a local write and its queue entry are one batch) and on positional binding of
// azure-odata-sql's named parameters.

const { test } = require('node:test');
const assert = require('node:assert/strict');
const { sqlitePlugin } = require('../lib/websql');

function open() {
  return new Promise((resolve, reject) => {
    const db = sqlitePlugin.openDatabase({ name: ':memory:' }, () => resolve(db), reject);
  });
}

function tx(db, fn) {
  return new Promise((resolve, reject) => db.transaction(fn, reject, resolve));
}

function rows(db, sql, params = []) {
  return new Promise((resolve, reject) => db.executeSql(sql, params, (rs) => {
    const out = [];
    for (let i = 0; i < rs.rows.length; i++) out.push(rs.rows.item(i));
    resolve(out);
  }, reject));
}

test('a failing statement rolls the whole transaction back', async () => {
  const db = await open();
  await tx(db, (t) => t.executeSql('CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)'));
  await assert.rejects(tx(db, (t) => {
    t.executeSql('INSERT INTO t VALUES (?, ?)', ['a', 1]);
    t.executeSql('INSERT INTO nowhere VALUES (1)');
  }), /no such table/);
  assert.deepEqual(await rows(db, 'SELECT * FROM t'), []);
});

test('statements queued from a callback run in the same transaction, in order', async () => {
  const db = await open();
  await tx(db, (t) => {
    t.executeSql('CREATE TABLE t (id TEXT, n INTEGER)', [], (t2) => {
      t2.executeSql('INSERT INTO t VALUES (?, ?)', ['a', 1], (t3, rs) => {
        assert.equal(rs.rowsAffected, 1);
        t3.executeSql('INSERT INTO t VALUES (?, ?)', ['b', 2]);
      });
    });
  });
  assert.deepEqual((await rows(db, 'SELECT id FROM t ORDER BY n')).map((r) => r.id), ['a', 'b']);
});

test('an error callback that returns false handles the error and the transaction goes on', async () => {
  const db = await open();
  await tx(db, (t) => {
    t.executeSql('CREATE TABLE t (id TEXT)');
    t.executeSql('INSERT INTO nowhere VALUES (1)', [], null, () => false);
    t.executeSql("INSERT INTO t VALUES ('kept')");
  });
  assert.deepEqual(await rows(db, 'SELECT id FROM t'), [{ id: 'kept' }]);
});

test('named parameters bind by position, numbered by first appearance; quoted text is not a parameter', async () => {
  const db = await open();
  await tx(db, (t) => t.executeSql("CREATE TABLE t ([id @x] TEXT, n INTEGER, s TEXT)"));
  await tx(db, (t) => t.executeSql("INSERT INTO t VALUES (@p1, @p2, ':not @a param')", ['a', 7]));
  // SQLite numbers @p2 first here: it takes the first value, as the plugin would bind it
  const got = await rows(db, 'SELECT * FROM t WHERE [id @x] = @p2 AND n = @p1 AND n >= @p1', ['a', 7]);
  assert.deepEqual(got, [{ 'id @x': 'a', n: 7, s: ':not @a param' }]);
});

test('booleans, undefined, dates and objects bind as the plugin binds them', async () => {
  const db = await open();
  await tx(db, (t) => t.executeSql('CREATE TABLE t (a, b, c, d)'));
  await tx(db, (t) => t.executeSql('INSERT INTO t VALUES (?, ?, ?, ?)', [true, undefined, new Date(5), { k: 1 }]));
  assert.deepEqual(await rows(db, 'SELECT * FROM t'), [{ a: 1, b: null, c: 5, d: '{"k":1}' }]);
});

test('a closed database refuses transactions', async () => {
  const db = await open();
  await new Promise((resolve, reject) => db.close(resolve, reject));
  await assert.rejects(tx(db, (t) => t.executeSql('SELECT 1')), /closed/);
});
