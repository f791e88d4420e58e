'use strict';
// The JS driver through its protocol, against `conflictlab serve`: what the protocol asks
// (hello, ids, errors, snapshots, restart), the strategies on the SDK's push handler, manual
// resolution, incremental pull, purge, faults. Tests named "SDK:" pin a behaviour of the SDK
// that differs from docs/semantics.md (docs/js-sdk.md): they are the evidence, and they fail the
// day the SDK (or the driver's mapping) changes.

const { test, before, after, describe } = require('node:test');
const assert = require('node:assert/strict');
const { Server, Driver, tempFile } = require('./harness');

let srv;
let drv;
let n = 0;

before(async () => {
  srv = await Server.start();
  drv = new Driver();
  await drv.call('hello', { protocol: 1 });
});

after(async () => {
  if (drv) await drv.shutdown();
  if (srv) srv.stop();
});

// fresh opens a device of its own, on its own table, so tests do not see each other.
async function fresh(opts = {}) {
  n++;
  const device = opts.device || `dev${n}`;
  const table = opts.table || `t${n}`;
  const req = {
    device, url: srv.url, dialect: 'v2', installationId: device, store: opts.store || { kind: 'memory' },
    strategy: opts.strategy || 'manual', options: opts.options || {}, timeoutMs: opts.timeoutMs || 5000,
  };
  await drv.call('open', req);
  const call = (op, args = {}) => drv.call(op, { device, ...args });
  const fails = (op, args = {}) => drv.fails(op, { device, ...args });
  return { device, table, req, call, fails };
}

async function requestsDuring(fn) {
  const seq = await srv.lastSeq();
  const out = await fn();
  return { out, requests: await srv.requests(seq) };
}

describe('protocol', () => {
  test('hello names the SDK and its capabilities', async () => {
    const r = await drv.call('hello', { protocol: 1 });
    assert.equal(r.protocol, 1);
    assert.equal(r.sdk, 'azure-mobile-apps-client');
    assert.equal(r.version, '2.0.1');
    assert.deepEqual(r.capabilities.strategies, ['client-wins', 'server-wins', 'manual']);
    assert.deepEqual(r.capabilities.stores, ['memory', 'sqlite']);
    assert.deepEqual(r.capabilities.dialects, ['v2']);
    assert.ok(r.capabilities.ops.includes('resolve'));
  });

  test('another protocol version, an unknown op and an unknown device are errors, not crashes', async () => {
    assert.equal((await drv.fails('hello', { protocol: 2 })).kind, 'unsupported');
    assert.equal((await drv.fails('frobnicate', { device: 'x' })).kind, 'unsupported');
    assert.equal((await drv.fails('push', { device: 'nobody' })).kind, 'internal');
  });

  test('what the SDK cannot do answers open with unsupported', async () => {
    const base = { url: srv.url, dialect: 'v2', store: { kind: 'memory' }, strategy: 'manual', options: {}, timeoutMs: 1000 };
    const cases = [
      [{ strategy: 'cancel' }, /cannot stop a push/],
      [{ dialect: 'v1' }, /only v2/],
      [{ options: { pushScope: 'table' } }, /never pushes first/],
      [{ options: { collapseUpdateDeleteToTail: true } }, /in place/],
      [{ options: { purgePushesFirst: true } }, /never pushes/],
      [{ options: { maxTries: 7 } }, /at most 6 tries/],
      [{ store: { kind: 'indexeddb' } }, /no store/],
    ];
    for (const [i, [change, why]] of cases.entries()) {
      const e = await drv.fails('open', { ...base, ...change, device: `unsupported${i}` });
      assert.equal(e.kind, 'unsupported', JSON.stringify(change));
      assert.match(e.message, why);
    }
  });

  test('overlapping requests are each answered once, with their own id', async () => {
    const d = await fresh();
    const writes = [];
    for (let i = 0; i < 20; i++) writes.push(drv.send('insert', { device: d.device, table: d.table, item: { id: `o${i}`, n: i } }));
    writes.push(drv.send('pending', { device: d.device }));
    const answers = await Promise.all(writes);
    assert.equal(new Set(answers.map((a) => a.id)).size, answers.length);
    assert.ok(answers.every((a) => a.ok), JSON.stringify(answers.filter((a) => !a.ok)));
    assert.equal((await d.call('pending')).operations.length, 20);
  });

  test('a line that is not JSON is logged, and the driver goes on', async () => {
    drv.proc.stdin.write('this is not json\n');
    const r = await drv.call('hello', { protocol: 1 });
    assert.equal(r.protocol, 1);
    for (let i = 0; i < 100 && !/not a JSON request/.test(drv.stderr); i++) await new Promise((ok) => setTimeout(ok, 10));
    assert.match(drv.stderr, /not a JSON request/);
  });

  test('stdout holds answers only (the SDK\'s own warnings go to stderr)', async () => {
    for (const line of drv.lines) {
      const msg = JSON.parse(line);
      assert.ok(Number.isInteger(msg.id) && typeof msg.ok === 'boolean', line);
    }
  });
});

describe('local store', () => {
  test('insert, update, lookup, read with a query, delete, and the queue they make', async () => {
    const d = await fresh();
    const ins = await d.call('insert', { table: d.table, item: { id: 'a', text: 'Buy eggs', complete: false, n: 2 } });
    assert.equal(ins.item.text, 'Buy eggs');
    await d.call('insert', { table: d.table, item: { id: 'b', text: 'Buy milk', complete: true, n: 1.5 } });
    await d.call('update', { table: d.table, item: { id: 'a', text: 'Buy eggs (6)' } });
    const a = (await d.call('lookup', { table: d.table, itemId: 'A' })).item; // ids are case-insensitive
    assert.deepEqual([a.id, a.text, a.complete, a.n], ['a', 'Buy eggs (6)', false, 2]);
    const open = await d.call('read', { table: d.table, query: { filter: 'complete eq false' } });
    assert.deepEqual(open.items.map((r) => r.id), ['a']);
    const ordered = await d.call('read', { table: d.table, query: { orderby: 'n desc', top: 1 } });
    assert.deepEqual(ordered.items.map((r) => r.id), ['a']);
    await d.call('delete', { table: d.table, item: { id: 'b' } });
    assert.equal((await d.fails('lookup', { table: d.table, itemId: 'b' })).kind, 'not-found');
    // insert + update folds into the insert; insert + delete vanishes
    const ops = (await d.call('pending')).operations;
    assert.deepEqual(ops.map((o) => `${o.kind} ${o.itemId} ${o.state}`), ['insert a pending']);
    assert.ok(ops[0].sequence > 0 && typeof ops[0].id === 'string');
  });

  test('what the queue refuses is invalid-operation and changes nothing', async () => {
    const d = await fresh();
    await d.call('insert', { table: d.table, item: { id: 'x', text: 'x' } });
    const before = await d.call('snapshot', { tables: [d.table] });
    assert.equal((await d.fails('insert', { table: d.table, item: { id: 'x', text: 'again' } })).kind, 'invalid-operation');
    assert.equal((await d.fails('insert', { table: d.table, item: { id: 'X', text: 'again' } })).kind, 'invalid-operation');
    assert.equal((await d.fails('insert', { table: d.table, item: { id: 'a/b' } })).kind, 'invalid-operation');
    assert.equal((await d.fails('insert', { table: d.table, item: { id: '' } })).kind, 'invalid-operation');
    assert.equal((await d.fails('insert', { table: 'todo-item', item: { id: 'y' } })).kind, 'invalid-operation');
    await srv.write(d.table, 'z', 'insert', { text: 'z' });
    await d.call('pull', { table: d.table });
    await d.call('delete', { table: d.table, item: { id: 'z' } });
    assert.equal((await d.fails('update', { table: d.table, item: { id: 'z', text: 'back' } })).kind, 'invalid-operation');
    const after = await d.call('snapshot', { tables: [d.table] });
    assert.equal(after.operations.length, before.operations.length + 1); // the delete, nothing else
    assert.deepEqual(after.rows[d.table].map((r) => r.id), ['x']);
  });

  test('a local read with a filter the store cannot parse is invalid-query', async () => {
    const d = await fresh();
    assert.equal((await d.fails('read', { table: d.table, query: { filter: 'text eq' } })).kind, 'invalid-query');
    assert.equal((await d.fails('read', { table: d.table, query: { orderby: 'text sideways' } })).kind, 'invalid-query');
  });
});

describe('push', () => {
  test('insert then push: one POST, the server\'s row comes back with its system columns', async () => {
    const d = await fresh();
    await d.call('insert', { table: d.table, item: { id: 'e1', text: 'Buy eggs', complete: false } });
    const { out, requests } = await requestsDuring(() => d.call('push'));
    assert.deepEqual(out, { status: 'complete', errors: [] });
    assert.deepEqual(requests, [`POST /tables/${d.table}`]);
    const server = (await srv.rows(d.table)).e1;
    const local = (await d.call('lookup', { table: d.table, itemId: 'e1' })).item;
    assert.equal(local.version, server.version);
    assert.equal(local.updatedAt, server.updatedAt);
    assert.equal(local.createdAt, server.createdAt);
    assert.equal((await d.call('pending')).operations.length, 0);
    const h = (await srv.history()).filter((e) => e.method === 'POST' && e.path === `/tables/${d.table}`);
    assert.equal(h[h.length - 1].client, d.device, 'X-ZUMO-INSTALLATION-ID is the device\'s');
  });

  // blog-buy-eggs, one strategy at a time: an edit on the phone meets a server edit (412)
  async function conflict(strategy, options) {
    const d = await fresh({ strategy, options });
    await srv.write(d.table, 'e1', 'insert', { text: 'Buy eggs', complete: false });
    await d.call('pull', { table: d.table, queryId: 'all' });
    await d.call('update', { table: d.table, item: { id: 'e1', text: 'Buy eggs (6)' } });
    await srv.write(d.table, 'e1', 'update', { text: 'Buy organic eggs' });
    const { out, requests } = await requestsDuring(() => d.call('push'));
    return { d, out, requests, server: (await srv.rows(d.table)).e1, local: (await d.call('lookup', { table: d.table, itemId: 'e1' })).item };
  }

  test('client wins: the 412 is retried with the server\'s version and the phone\'s text wins', async () => {
    const { d, out, requests, server, local } = await conflict('client-wins');
    assert.deepEqual(out, { status: 'complete', errors: [] });
    assert.deepEqual(requests, [`PATCH /tables/${d.table}/e1`, `PATCH /tables/${d.table}/e1`]);
    assert.equal(server.text, 'Buy eggs (6)');
    assert.equal(local.text, 'Buy eggs (6)');
    assert.equal(local.version, server.version);
    assert.equal((await d.call('pending')).operations.length, 0);
  });

  test('server wins: the server\'s row is kept, the operation dropped', async () => {
    const { d, out, requests, server, local } = await conflict('server-wins');
    assert.deepEqual(out, { status: 'complete', errors: [] });
    assert.deepEqual(requests, [`PATCH /tables/${d.table}/e1`]);
    assert.equal(server.text, 'Buy organic eggs');
    assert.deepEqual([local.text, local.version, local.updatedAt], [server.text, server.version, server.updatedAt]);
    assert.equal((await d.call('pending')).operations.length, 0);
  });

  test('manual: the 412 is left, with the server\'s row, for resolve', async () => {
    const { d, out, requests, server, local } = await conflict('manual');
    assert.equal(out.status, 'complete');
    assert.equal(out.errors.length, 1);
    const e = out.errors[0];
    assert.deepEqual([e.table, e.itemId, e.kind, e.status], [d.table, 'e1', 'update', 412]);
    assert.equal(e.serverItem.text, 'Buy organic eggs');
    assert.equal(e.item.text, 'Buy eggs (6)');
    assert.deepEqual(requests, [`PATCH /tables/${d.table}/e1`]);
    assert.equal(server.text, 'Buy organic eggs');
    assert.equal(local.text, 'Buy eggs (6)');
    assert.equal((await d.call('errors')).errors.length, 1);
    const snap = await d.call('snapshot', { tables: [d.table] });
    assert.equal(snap.errors.length, 1);
    assert.equal(snap.operations.length, 1);
  });

  test('client wins gives up after maxTries and records the conflict', async () => {
    const d = await fresh({ strategy: 'client-wins', options: { maxTries: 3 } });
    await srv.write(d.table, 'e1', 'insert', { text: 'v0' });
    await d.call('pull', { table: d.table });
    await d.call('update', { table: d.table, item: { id: 'e1', text: 'phone' } });
    // another writer gets in before every PATCH
    await srv.fault({ id: `race-${d.table}`, match: { method: 'PATCH', table: d.table }, action: 'concurrent-write' });
    const { out, requests } = await requestsDuring(() => d.call('push'));
    await srv.heal();
    assert.equal(requests.filter((r) => r.startsWith('PATCH')).length, 3);
    assert.deepEqual(out.errors.map((e) => e.status), [412]);
  });

  test('409 on insert: client wins turns it into an update with the server\'s version', async () => {
    const d = await fresh({ strategy: 'client-wins' });
    await srv.write(d.table, 'i1', 'insert', { text: 'server' });
    await d.call('insert', { table: d.table, item: { id: 'i1', text: 'phone' } });
    const { out, requests } = await requestsDuring(() => d.call('push'));
    assert.deepEqual(out, { status: 'complete', errors: [] });
    assert.deepEqual(requests, [`POST /tables/${d.table}`, `PATCH /tables/${d.table}/i1`]);
    assert.equal((await srv.rows(d.table)).i1.text, 'phone');
  });

  test('a delete that meets a server edit: server wins brings the row back, client wins deletes', async () => {
    for (const strategy of ['server-wins', 'client-wins']) {
      const d = await fresh({ strategy });
      await srv.write(d.table, 'd1', 'insert', { text: 'd0' });
      await d.call('pull', { table: d.table });
      await d.call('delete', { table: d.table, item: { id: 'd1' } });
      await srv.write(d.table, 'd1', 'update', { text: 'server' });
      const out = await d.call('push');
      assert.deepEqual(out, { status: 'complete', errors: [] }, strategy);
      const server = (await srv.rows(d.table)).d1;
      if (strategy === 'server-wins') {
        assert.equal(server.deleted, false);
        assert.equal((await d.call('lookup', { table: d.table, itemId: 'd1' })).item.text, 'server');
      } else {
        assert.equal(server.deleted, true);
        assert.equal((await d.fails('lookup', { table: d.table, itemId: 'd1' })).kind, 'not-found');
      }
    }
  });

  test('treatIdenticalAsSuccess: a 409 whose server row equals what was sent settles', async () => {
    const d = await fresh({ options: { treatIdenticalAsSuccess: true } });
    await srv.write(d.table, 's1', 'insert', { text: 'same' });
    await d.call('insert', { table: d.table, item: { id: 's1', text: 'same' } });
    assert.deepEqual(await d.call('push'), { status: 'complete', errors: [] });
    const server = (await srv.rows(d.table)).s1;
    assert.equal((await d.call('lookup', { table: d.table, itemId: 's1' })).item.version, server.version);
  });

  test('offline: the push is cancelled by the network, the queue kept, nothing recorded', async () => {
    const d = await fresh();
    await d.call('insert', { table: d.table, item: { id: 'n1' } });
    await srv.fault({ id: `off-${d.table}`, match: { table: d.table }, action: 'offline' });
    const out = await d.call('push');
    const pull = await d.fails('pull', { table: d.table });
    await srv.heal();
    assert.deepEqual(out, { status: 'cancelled-by-network-error', errors: [] });
    assert.equal((await d.call('pending')).operations.length, 1);
    assert.equal(pull.kind, 'network');
  });

  test('a request held past timeoutMs ends the push as a network error, in time', async () => {
    const d = await fresh({ timeoutMs: 500 });
    await d.call('insert', { table: d.table, item: { id: 'h1' } });
    await srv.fault({ id: `hold-${d.table}`, match: { table: d.table }, action: 'timeout' });
    const t = Date.now();
    const out = await d.call('push');
    const took = Date.now() - t;
    await srv.heal();
    assert.equal(out.status, 'cancelled-by-network-error');
    assert.ok(took >= 450 && took < 3000, `took ${took} ms`);
  });

  test('401 cancels the push by authentication', async () => {
    const d = await fresh();
    await d.call('insert', { table: d.table, item: { id: 'u1' } });
    await srv.fault({ id: `auth-${d.table}`, match: { table: d.table }, action: 'status', params: { code: 401 } });
    const out = await d.call('push');
    const pull = await d.fails('pull', { table: d.table });
    await srv.heal();
    assert.deepEqual(out, { status: 'cancelled-by-authentication-error', errors: [] });
    assert.deepEqual([pull.kind, pull.status], ['auth', 401]);
  });
});

describe('manual resolution', () => {
  test('cancel-and-update, cancel-and-discard and update-operation, then the next push', async () => {
    const d = await fresh();
    for (const id of ['a', 'b', 'c']) await srv.write(d.table, id, 'insert', { text: `${id}0` });
    await d.call('pull', { table: d.table });
    for (const id of ['a', 'b', 'c']) await d.call('update', { table: d.table, item: { id, text: `${id}-phone` } });
    for (const id of ['a', 'b', 'c']) await srv.write(d.table, id, 'update', { text: `${id}-server` });
    const first = await d.call('push');
    assert.deepEqual(first.errors.map((e) => `${e.itemId} ${e.status}`), ['a 412', 'b 412', 'c 412']);
    const errs = Object.fromEntries(first.errors.map((e) => [e.itemId, e]));
    await d.call('resolve', { table: d.table, itemId: 'a', how: 'cancel-and-update', item: errs.a.serverItem });
    await d.call('resolve', { table: d.table, itemId: 'b', how: 'cancel-and-discard' });
    // as conflictlab's runner sends it: the local row with the server's version
    const c = (await d.call('lookup', { table: d.table, itemId: 'c' })).item;
    await d.call('resolve', { table: d.table, itemId: 'c', how: 'update-operation', item: { ...c, version: errs.c.serverItem.version } });
    const snap = await d.call('snapshot', { tables: [d.table] });
    assert.deepEqual(snap.errors, []);
    assert.deepEqual(snap.operations.map((o) => o.itemId), ['c']);
    const rows = Object.fromEntries(snap.rows[d.table].map((r) => [r.id, r]));
    assert.equal(rows.a.text, 'a-server');
    assert.equal(rows.b, undefined);
    assert.equal(rows.c.text, 'c-phone');
    const { out, requests } = await requestsDuring(() => d.call('push'));
    assert.deepEqual(out, { status: 'complete', errors: [] });
    assert.deepEqual(requests, [`PATCH /tables/${d.table}/c`]);
    assert.equal((await srv.rows(d.table)).c.text, 'c-phone');
    assert.equal((await d.fails('resolve', { table: d.table, itemId: 'a', how: 'cancel-and-discard' })).kind, 'not-found');
  });

  test('a delete\'s conflict resolved by update-operation is sent again with the new version', async () => {
    const d = await fresh();
    await srv.write(d.table, 'd1', 'insert', { text: 'd0' });
    await d.call('pull', { table: d.table });
    await d.call('delete', { table: d.table, item: { id: 'd1' } });
    await srv.write(d.table, 'd1', 'update', { text: 'server' });
    const first = await d.call('push');
    assert.deepEqual(first.errors.map((e) => [e.kind, e.itemId, e.status]), [['delete', 'd1', 412]]);
    assert.equal(first.errors[0].item.id, 'd1');
    await d.call('resolve', { table: d.table, itemId: 'd1', how: 'update-operation', item: { id: 'd1', version: first.errors[0].serverItem.version } });
    assert.deepEqual(await d.call('push'), { status: 'complete', errors: [] });
    assert.equal((await srv.rows(d.table)).d1.deleted, true);
  });

  test('an error whose operation a forced purge removed is gone', async () => {
    const d = await fresh();
    await srv.write(d.table, 'e1', 'insert', { text: 'x' });
    await d.call('insert', { table: d.table, item: { id: 'e1', text: 'y' } });
    assert.equal((await d.call('push')).errors.length, 1);
    await d.call('purge', { table: d.table, force: true });
    assert.deepEqual((await d.call('errors')).errors, []);
  });
});

describe('pull and purge', () => {
  test('an incremental pull asks only for what changed since its token, and keeps the token per query id', async () => {
    const d = await fresh();
    for (const id of ['r1', 'r2', 'r3']) await srv.write(d.table, id, 'insert', { text: id });
    await d.call('pull', { table: d.table, queryId: 'all' });
    const snap1 = await d.call('snapshot', { tables: [d.table] });
    const key = `deltaToken|${d.table}|all`;
    const rows = await srv.rows(d.table);
    assert.equal(snap1.config[key], rows.r3.updatedAt);
    assert.equal(snap1.rows[d.table].length, 3);
    await srv.write(d.table, 'r2', 'update', { text: 'r2-edited' });
    const seq = await srv.lastSeq();
    await d.call('pull', { table: d.table, queryId: 'all' });
    const gets = (await srv.history()).filter((e) => e.seq > seq && e.method);
    assert.ok(gets.every((e) => e.method === 'GET' && e.path === `/tables/${d.table}`));
    const first = decodeURIComponent(gets[0].query);
    assert.match(first, new RegExp(`updatedAt ge datetimeoffset'${snap1.config[key]}'`));
    assert.match(first, /\$orderby=updatedAt/);
    assert.match(first, /__includeDeleted=true/);
    assert.equal(gets[0].rows, 2, 'r3 (at the token: ge) and r2, not r1');
    assert.equal((await d.call('lookup', { table: d.table, itemId: 'r2' })).item.text, 'r2-edited');
    const snap2 = await d.call('snapshot', { tables: [d.table] });
    assert.equal(snap2.config[key], (await srv.rows(d.table)).r2.updatedAt);
  });

  test('a pull pages with $skip until an empty page, and deletes what the server deleted', async () => {
    const d = await fresh({ options: { pageSize: 2 } });
    for (let i = 0; i < 5; i++) await srv.write(d.table, `p${i}`, 'insert', { n: i });
    await d.call('pull', { table: d.table });
    assert.equal((await d.call('read', { table: d.table })).items.length, 5);
    await srv.write(d.table, 'p1', 'delete');
    await d.call('pull', { table: d.table });
    assert.deepEqual((await d.call('read', { table: d.table, query: { orderby: 'n' } })).items.map((r) => r.id), ['p0', 'p2', 'p3', 'p4']);
  });

  test('a filtered pull brings only matching rows', async () => {
    const d = await fresh();
    await srv.write(d.table, 'f1', 'insert', { complete: false });
    await srv.write(d.table, 'f2', 'insert', { complete: true });
    await d.call('pull', { table: d.table, queryId: 'open', query: { filter: 'complete eq false' } });
    assert.deepEqual((await d.call('read', { table: d.table })).items.map((r) => r.id), ['f1']);
  });

  test('purge: refused with pending operations; forced, it drops rows, queue and tokens; with a query, only matches', async () => {
    const d = await fresh();
    for (const id of ['k1', 'k2']) await srv.write(d.table, id, 'insert', { text: id });
    await d.call('pull', { table: d.table, queryId: 'all' });
    await d.call('purge', { table: d.table, query: { filter: "id eq 'k1'" } });
    assert.deepEqual((await d.call('read', { table: d.table })).items.map((r) => r.id), ['k2']);
    await d.call('insert', { table: d.table, item: { id: 'k3' } });
    const refused = await d.fails('purge', { table: d.table });
    assert.equal(refused.kind, 'purge-pending-changes');
    await d.call('pull', { table: d.table, queryId: 'all' });
    await d.call('purge', { table: d.table, force: true });
    const snap = await d.call('snapshot', { tables: [d.table] });
    assert.deepEqual([snap.rows[d.table], snap.operations, snap.config], [[], [], {}]);
  });

  test('an online query reads the server', async () => {
    const d = await fresh();
    await srv.write(d.table, 'q1', 'insert', { n: 1 });
    await srv.write(d.table, 'q2', 'insert', { n: 2 });
    const r = await d.call('query', { table: d.table, query: { filter: 'n gt 1' } });
    assert.deepEqual(r.items.map((x) => x.id), ['q2']);
    assert.equal((await d.fails('query', { table: d.table, query: { filter: 'n gt' } })).status, 400);
  });
});

describe('restart on sqlite', () => {
  test('rows, the queue with its collapses, and delta tokens survive close and open', async () => {
    const file = tempFile('phone.db');
    const d = await fresh({ store: { kind: 'sqlite', path: file } });
    for (const id of ['t1', 't2']) await srv.write(d.table, id, 'insert', { text: id });
    await d.call('pull', { table: d.table, queryId: 'all' });
    await d.call('insert', { table: d.table, item: { id: 't3', text: 'new', done: false, n: 2.5 } });
    await d.call('update', { table: d.table, item: { id: 't1', text: 't1-edited' } });
    await d.call('delete', { table: d.table, item: { id: 't2' } });
    await d.call('update', { table: d.table, item: { id: 't3', text: 'newer' } });
    const before = await d.call('snapshot', { tables: [d.table] });
    await d.call('close');
    await drv.call('open', d.req);
    const after = await d.call('snapshot', { tables: [d.table] });
    assert.deepEqual(after, before);
    assert.deepEqual(after.operations.map((o) => `${o.kind} ${o.itemId}`), ['insert t3', 'update t1', 'delete t2']);
    assert.ok(after.config[`deltaToken|${d.table}|all`]);
    const t3 = (await d.call('lookup', { table: d.table, itemId: 't3' })).item;
    assert.deepEqual([t3.done, t3.n], [false, 2.5]);
    assert.equal((await d.fails('insert', { table: d.table, item: { id: 't3', text: 'again' } })).kind, 'invalid-operation');
    const { out, requests } = await requestsDuring(() => d.call('push'));
    assert.deepEqual(out, { status: 'complete', errors: [] });
    assert.deepEqual(requests, [`POST /tables/${d.table}`, `PATCH /tables/${d.table}/t1`, `DELETE /tables/${d.table}/t2`]);
    await d.call('close');
    await drv.call('open', d.req);
    const last = await d.call('snapshot', { tables: [d.table] });
    assert.deepEqual(last.operations, []);
    assert.deepEqual(last.rows[d.table].map((r) => r.text).sort(), ['newer', 't1-edited']);
  });

  test('SDK: the unhandled errors of a push do not survive a restart (the SDK keeps them in memory only)', async () => {
    const file = tempFile('errors.db');
    const d = await fresh({ store: { kind: 'sqlite', path: file } });
    await srv.write(d.table, 'e1', 'insert', { text: 'server' });
    await d.call('insert', { table: d.table, item: { id: 'e1', text: 'phone' } });
    assert.equal((await d.call('push')).errors.length, 1);
    assert.equal((await d.call('errors')).errors.length, 1);
    await d.call('close');
    await drv.call('open', d.req);
    assert.equal((await d.call('pending')).operations.length, 1);
    assert.deepEqual((await d.call('errors')).errors, []);
  });

  test('arrays and objects are kept in their columns across a restart', async () => {
    const file = tempFile('types.db');
    const d = await fresh({ store: { kind: 'sqlite', path: file } });
    await d.call('insert', { table: d.table, item: { id: 'j1', tags: ['a', 'b'], meta: { k: 1 }, when: null } });
    await d.call('close');
    await drv.call('open', d.req);
    const j1 = (await d.call('lookup', { table: d.table, itemId: 'j1' })).item;
    assert.deepEqual([j1.tags, j1.meta, j1.when ?? null], [['a', 'b'], { k: 1 }, null]);
  });

  test('a memory store starts empty again', async () => {
    const d = await fresh();
    await d.call('insert', { table: d.table, item: { id: 'm1' } });
    await d.call('close');
    await drv.call('open', d.req);
    assert.deepEqual((await d.call('snapshot', { tables: [d.table] })).rows[d.table], []);
  });
});

describe('faults the SDK does not survive', () => {
  test('SDK: a cut response body throws inside the SDK\'s XHR callback; the push never ends, later sync calls are refused', async () => {
    const d = await fresh({ strategy: 'client-wins' });
    await srv.write(d.table, 'e1', 'insert', { text: 'Buy eggs' });
    await d.call('pull', { table: d.table });
    await d.call('update', { table: d.table, item: { id: 'e1', text: 'Buy eggs (6)' } });
    await srv.fault({ id: `cut-${d.table}`, match: { op: 'update', table: d.table, times: 1 }, action: 'truncate' });
    const e = await d.fails('push');
    await srv.heal();
    assert.equal(e.kind, 'bad-response');
    assert.match(e.message, /never settles/);
    assert.equal((await srv.rows(d.table)).e1.text, 'Buy eggs (6)', 'the write was applied');
    const again = await d.fails('push');
    assert.equal(again.kind, 'bad-response');
    assert.match(again.message, /stuck/);
    // local reads and writes still work
    await d.call('update', { table: d.table, item: { id: 'e1', text: 'later' } });
    assert.equal((await d.call('lookup', { table: d.table, itemId: 'e1' })).item.text, 'later');
  });
  test('SDK: a cut page of an online query is a bad-response of that query only', async () => {
    const d = await fresh();
    await srv.write(d.table, 'q1', 'insert', { text: 'x'.repeat(200) });
    await srv.fault({ id: `cutq-${d.table}`, match: { method: 'GET', table: d.table, times: 1 }, action: 'truncate' });
    const e = await d.fails('query', { table: d.table });
    await srv.heal();
    assert.equal(e.kind, 'bad-response');
    await d.call('pull', { table: d.table }); // the sync context is not stuck
    assert.equal((await d.call('read', { table: d.table })).items.length, 1);
  });
});

describe('SDK differences from docs/semantics.md', () => {
  test('SDK: a pull does not push first (the local edit stays queued, the row is skipped)', async () => {
    const d = await fresh();
    await srv.write(d.table, 'e1', 'insert', { text: 'v0' });
    await d.call('pull', { table: d.table, queryId: 'all' });
    await d.call('update', { table: d.table, item: { id: 'e1', text: 'phone' } });
    await srv.write(d.table, 'e1', 'update', { text: 'server' });
    const { requests } = await requestsDuring(() => d.call('pull', { table: d.table, queryId: 'all' }));
    assert.ok(requests.every((r) => r.startsWith('GET')), requests.join(', '));
    assert.equal((await d.call('lookup', { table: d.table, itemId: 'e1' })).item.text, 'phone');
    assert.equal((await d.call('pending')).operations.length, 1);
  });

  test('SDK: rows skipped for pending operations still move the delta token', async () => {
    const d = await fresh();
    await srv.write(d.table, 'e1', 'insert', { text: 'v0' });
    await d.call('pull', { table: d.table, queryId: 'all' });
    await d.call('update', { table: d.table, item: { id: 'e1', text: 'phone' } });
    await srv.write(d.table, 'e1', 'update', { text: 'server' });
    await d.call('pull', { table: d.table, queryId: 'all' });
    const token = (await d.call('snapshot', { tables: [d.table] })).config[`deltaToken|${d.table}|all`];
    assert.equal(token, (await srv.rows(d.table)).e1.updatedAt);
  });

  test('SDK: a full pull refuses $orderby and $top, and a query id is not checked', async () => {
    const d = await fresh();
    assert.equal((await d.fails('pull', { table: d.table, query: { orderby: 'text', top: 5 } })).kind, 'invalid-query');
    const { requests } = await requestsDuring(() => d.call('pull', { table: d.table, queryId: 'a|b' }));
    assert.ok(requests.length > 0);
  });

  test('SDK: one delta token per query id, whatever the table (the key is the query id alone)', async () => {
    const d = await fresh();
    const other = `${d.table}x`;
    await srv.write(d.table, 'a1', 'insert', { text: 'a' });
    await srv.write(other, 'b1', 'insert', { text: 'b' });
    await d.call('pull', { table: d.table, queryId: 'all' });
    await d.call('pull', { table: other, queryId: 'all' });
    const config = (await d.call('snapshot', { tables: [d.table, other] })).config;
    assert.deepEqual(Object.keys(config), [`deltaToken|${other}|all`]);
  });

  test('SDK: a delete after a pending delete is folded, not refused', async () => {
    const d = await fresh();
    await d.call('insert', { table: d.table, item: { id: 'x' } });
    await d.call('push');
    await d.call('delete', { table: d.table, item: { id: 'x' } });
    await d.call('delete', { table: d.table, item: { id: 'x' } });
    assert.equal((await d.call('pending')).operations.length, 1);
  });

  test('SDK: a status other than 409/412 stops the push (the operations after it are not sent)', async () => {
    const d = await fresh();
    for (const id of ['a', 'b', 'c']) await d.call('insert', { table: d.table, item: { id } });
    await srv.fault({ id: `busy-${d.table}`, match: { op: 'insert', table: d.table, id: 'b' }, action: 'status', params: { code: 503 } });
    const { out, requests } = await requestsDuring(() => d.call('push'));
    await srv.heal();
    assert.equal(out.status, 'cancelled-by-error');
    assert.deepEqual(out.errors.map((e) => `${e.itemId} ${e.status}`), ['b 503']);
    assert.equal(requests.length, 2);
    assert.equal((await d.call('pending')).operations.length, 2);
  });
});

describe('SDK differences in its store', () => {
  test('SDK: a property named like an SQL keyword cannot be stored (the store\'s INSERT does not quote column names)', async () => {
    const d = await fresh();
    const e = await d.fails('insert', { table: d.table, item: { id: 's1', value: 'dark', from: 'tablet' } });
    assert.equal(e.kind, 'invalid-operation');
    assert.match(e.message, /near "from": syntax error/);
    assert.deepEqual((await d.call('pending')).operations, []);
  });

  test('SDK: startswith in a local query matches nothing (azure-odata-sql writes @p + \'%\' for SQLite)', async () => {
    const d = await fresh();
    await d.call('insert', { table: d.table, item: { id: 'e1', text: 'eggs' } });
    const all = await d.call('read', { table: d.table, query: { filter: "text eq 'eggs'" } });
    assert.equal(all.items.length, 1);
    const starts = await d.call('read', { table: d.table, query: { filter: "startswith(text, 'e')" } });
    assert.deepEqual(starts.items, []);
  });

  test('SDK: cancelAndUpdate merges the server\'s row into the local one (a column the server lacks keeps its local value)', async () => {
    const d = await fresh({ strategy: 'server-wins' });
    await srv.write(d.table, 'n1', 'insert', { other: 'server' });
    await d.call('insert', { table: d.table, item: { id: 'n1', text: 'new' } });
    assert.deepEqual(await d.call('push'), { status: 'complete', errors: [] });
    const local = (await d.call('lookup', { table: d.table, itemId: 'n1' })).item;
    const server = (await srv.rows(d.table)).n1;
    assert.equal(server.text, undefined);
    assert.deepEqual([local.other, local.text, local.version], ['server', 'new', server.version]);
  });

  test('push of some tables: pushed when the queue holds nothing else, unsupported otherwise', async () => {
    const d = await fresh();
    const other = `${d.table}o`;
    await d.call('insert', { table: d.table, item: { id: 'a' } });
    assert.deepEqual(await d.call('push', { tables: [d.table] }), { status: 'complete', errors: [] });
    await d.call('insert', { table: d.table, item: { id: 'b' } });
    await d.call('insert', { table: other, item: { id: 'c' } });
    const e = await d.fails('push', { tables: [d.table] });
    assert.equal(e.kind, 'unsupported');
    assert.equal((await d.call('pending')).operations.length, 2, 'nothing was sent');
  });
});

test('shutdown closes every device and exits 0', async () => {
  const d2 = new Driver();
  await d2.call('hello', { protocol: 1 });
  await d2.call('open', { device: 'x', url: srv.url, dialect: 'v2', installationId: 'x', store: { kind: 'sqlite', path: tempFile('x.db') }, strategy: 'manual', options: {}, timeoutMs: 1000 });
  const { res, exit } = await d2.shutdown();
  assert.equal(res.ok, true);
  assert.deepEqual(exit, { code: 0, signal: null });
});
