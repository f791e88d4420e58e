'use strict';
// A device: one app's MobileServiceClient with its sync context on its own store, and the
// protocol's operations mapped onto the SDK's public API. Where the SDK cannot express what
// is asked, the answer is `unsupported`; where it behaves differently from docs/semantics.md, the
// driver does what the SDK does and the harness judges it (docs/js-sdk.md lists the
// differences).

const { withTimeout } = require('./http');
const { MobileServiceClient, Query } = require('azure-mobile-apps-client');
const { SchemaStore } = require('./store');
const {
  DriverError, unsupported, invalidOperation, invalidQuery, notFound, internal, classify, httpStatusOf, messageOf,
} = require('./errors');

// The SDK's push calls a push handler at most 5 times for one operation in one push
// (push.js, maxRetryCount), so client wins can try an operation at most 6 times.
const SDK_MAX_TRIES = 6;
const DEFAULT_MAX_TRIES = 5; // docs/semantics.md's client wins

const STRATEGIES = ['client-wins', 'server-wins', 'manual'];
const KNOWN_OPTIONS = ['pushScope', 'collapseUpdateDeleteToTail', 'purgePushesFirst', 'treatIdenticalAsSuccess',
  'skippedRowsMoveToken', 'pageSize', 'maxTries'];
const SYSTEM = ['id', 'version', 'createdat', 'updatedat', 'deleted'];

// checkConfig answers unsupported for what the SDK cannot do.
function checkConfig(req) {
  if (req.dialect && req.dialect !== 'v2') {
    throw unsupported(`dialect ${req.dialect}: the SDK speaks only v2 (ZUMO-API-VERSION 2.0.0, system columns without "__")`);
  }
  const strategy = req.strategy || 'manual';
  if (strategy === 'cancel') {
    throw unsupported('strategy cancel: the SDK\'s push handler cannot stop a push on a conflict ' +
      '(an unhandled conflict is recorded and the push goes on with the next operation; PushError.cancel() ' +
      'drops the operation instead of keeping it)');
  }
  if (!STRATEGIES.includes(strategy)) throw unsupported(`no strategy ${JSON.stringify(strategy)}`);
  const store = req.store || { kind: 'memory' };
  if (store.kind !== 'memory' && store.kind !== 'sqlite') throw unsupported(`no store ${JSON.stringify(store.kind)}`);
  if (store.kind === 'sqlite' && (typeof store.path !== 'string' || store.path === '')) {
    throw invalidOperation('a sqlite store needs a path');
  }
  const o = req.options || {};
  for (const k of Object.keys(o)) if (!KNOWN_OPTIONS.includes(k)) throw unsupported(`no option ${k}`);
  if (o.pushScope && o.pushScope !== 'context') {
    throw unsupported(`pushScope ${o.pushScope}: the SDK's pull never pushes first ` +
      '(MobileServiceSyncContext.pull: "TODO: Perform push before pulling"), so it has no push scope');
  }
  if (o.collapseUpdateDeleteToTail) {
    throw unsupported('collapseUpdateDeleteToTail: the SDK turns a queued update into the delete in place (operations.js, getCondenseAction)');
  }
  if (o.purgePushesFirst) throw unsupported('purgePushesFirst: the SDK\'s purge never pushes');
  if (o.pageSize !== undefined && !(Number.isInteger(o.pageSize) && o.pageSize > 0)) {
    throw invalidOperation(`pageSize ${o.pageSize}: want a positive integer`);
  }
  if (o.maxTries !== undefined) {
    if (!(Number.isInteger(o.maxTries) && o.maxTries > 0)) throw invalidOperation(`maxTries ${o.maxTries}: want a positive integer`);
    if (o.maxTries > SDK_MAX_TRIES) {
      throw unsupported(`maxTries ${o.maxTries}: the SDK calls the push handler at most 5 times for one operation in a push, so at most ${SDK_MAX_TRIES} tries`);
    }
  }
  return { strategy, store, options: o };
}

// buildQuery turns a protocol query into the SDK's QueryJs, with azure-query-js's OData
// provider: the filter stays the OData text it is (a literal clause), the order, top and skip
// become the query's own.
function buildQuery(table, q) {
  if (q === undefined || q === null) return new Query(table);
  if (typeof q !== 'object') throw invalidQuery('a query is an object {filter, orderby, top, skip}');
  const { filter, orderby, top, skip } = q;
  for (const k of Object.keys(q)) {
    if (!['filter', 'orderby', 'top', 'skip'].includes(k)) throw unsupported(`query field ${k}`);
  }
  if (filter !== undefined && typeof filter !== 'string') throw invalidQuery('filter: want a string');
  for (const [name, v] of [['top', top], ['skip', skip]]) {
    if (v !== undefined && v !== null && !(Number.isInteger(v) && v >= 0)) throw invalidQuery(`${name} ${v}: want an integer >= 0`);
  }
  let order;
  if (orderby !== undefined && orderby !== null && orderby !== '') {
    if (typeof orderby !== 'string') throw invalidQuery('orderby: want a string');
    order = orderby.split(',').map((part) => {
      const words = part.trim().split(/\s+/);
      if (words.length < 1 || words.length > 2 || words[0] === '' ||
          (words.length === 2 && !/^(asc|desc)$/i.test(words[1]))) {
        throw invalidQuery(`orderby ${JSON.stringify(orderby)}: want column [asc|desc], comma-separated`);
      }
      return words.join(' ');
    }).join(',');
  }
  return Query.Providers.OData.fromOData(table, filter || undefined, order, skip === null ? undefined : skip,
    top === null ? undefined : top);
}

function sameId(a, b) { return String(a).toLowerCase() === String(b).toLowerCase(); }

function userFields(item) {
  const out = {};
  for (const [k, v] of Object.entries(item || {})) {
    if (SYSTEM.includes(k.toLowerCase()) || v === null || v === undefined) continue;
    out[k] = v;
  }
  return out;
}

function sameUserFields(a, b) {
  const x = userFields(a);
  const y = userFields(b);
  const keys = new Set([...Object.keys(x), ...Object.keys(y)]);
  for (const k of keys) if (JSON.stringify(x[k]) !== JSON.stringify(y[k])) return false;
  return true;
}

class Device {
  // open makes the device's client and sync context on its store (reopening the file).
  static async open(req, hooks) {
    const cfg = checkConfig(req);
    if (typeof req.url !== 'string' || !/^https?:\/\//.test(req.url)) throw invalidOperation(`url ${JSON.stringify(req.url)}: want http(s)://…`);
    let store;
    try {
      store = await SchemaStore.open(cfg.store.kind === 'memory' ? ':memory:' : cfg.store.path);
    } catch (err) {
      throw internal(`opening the store ${cfg.store.path || '(memory)'}: ${messageOf(err)}`);
    }
    const d = new Device(req, cfg, store, hooks);
    try {
      await d.sc.initialize(store);
    } catch (err) {
      await store.close().catch(() => {});
      throw internal(`initializing the sync context: ${messageOf(err)}`);
    }
    d.sc.pushHandler = d.pushHandler();
    return d;
  }

  constructor(req, cfg, store, hooks) {
    this.name = req.device;
    this.installationId = req.installationId || req.device;
    this.timeoutMs = Number.isInteger(req.timeoutMs) && req.timeoutMs > 0 ? req.timeoutMs : 10000;
    this.strategy = cfg.strategy;
    this.options = cfg.options;
    this.maxTries = cfg.options.maxTries || DEFAULT_MAX_TRIES;
    this.store = store;
    this.hooks = hooks || {};
    // The installation id of MobileServiceClient is one per process (a static); each device
    // sends its own through a service filter, which also sets the device's time limit and
    // catches what the SDK throws while it reads an answer.
    this.client = new MobileServiceClient(req.url).withFilter((request, next, callback) => this.filter(request, next, callback));
    this.sc = this.client.getSyncContext();
    this.errors = []; // the PushErrors left unhandled by the last push
    this.pushing = Promise.resolve();
    this.currentPush = null;
    this.wedged = null;
    this.closed = false;
  }

  filter(request, next, callback) {
    request.headers = request.headers || {};
    request.headers['X-ZUMO-INSTALLATION-ID'] = this.installationId;
    const ctx = this.hooks.context ? this.hooks.context() : undefined;
    const done = (err, xhr) => {
      // Remember what the request was: a PushError of a delete names its item nowhere else.
      const target = xhr || (err && err.request);
      if (target && typeof target === 'object') target.conflictlabRequest = { method: request.type, url: request.url };
      try {
        callback(err, xhr);
      } catch (thrown) {
        this.sdkThrew(thrown, ctx, request, xhr);
      }
    };
    withTimeout(this.timeoutMs, () => next(request, done));
  }

  // sdkThrew: the SDK threw while it read an answer (a cut JSON body: JSON.parse inside its
  // XMLHttpRequest callback). Nothing catches that in the SDK: the promise of the call that
  // made the request never settles, and a push or pull it belonged to holds the sync context's
  // task runner for ever. The request waiting for it is answered now; later sync calls are
  // refused, for they would wait for ever.
  sdkThrew(thrown, ctx, request, xhr) {
    const status = xhr && typeof xhr.status === 'number' ? xhr.status : undefined;
    const what = `${request.type} ${request.url}` + (status !== undefined ? ` (status ${status})` : '');
    const msg = `the SDK threw ${messageOf(thrown)} while reading the answer to ${what}; ` +
      'the SDK catches nothing there: its promise never settles';
    if (this.hooks.log) this.hooks.log(`${this.name}: ${msg}\n${thrown && thrown.stack ? thrown.stack : ''}`);
    // An online query's request is made in its own request's context; a push's or pull's may
    // run in the context of whichever sync call ran before it on the SDK's task runner, so a
    // throw there settles every sync call of this device: they all wait on the stuck runner.
    const online = ctx && ctx.op === 'query';
    const err = (extra) => new DriverError('bad-response', msg + extra, status ? { status } : undefined);
    if (online) {
      if (ctx.abort) ctx.abort(err(''));
      return;
    }
    this.wedged = `${ctx ? `${ctx.op} (request ${ctx.id})` : 'push or pull'} never ended: ${msg}`;
    const waiting = this.hooks.syncRequests ? this.hooks.syncRequests(this.name) : [];
    if (ctx && !waiting.includes(ctx)) waiting.push(ctx);
    for (const c of waiting) if (c.abort) c.abort(err(', and the sync context waits for it for ever'));
  }

  checkOpen() {
    if (this.closed) throw internal(`device ${this.name} is closed`);
  }

  checkWedged() {
    if (this.wedged) {
      throw new DriverError('bad-response', `the SDK's sync context of ${this.name} is stuck since an earlier ${this.wedged}; this call would wait for ever`);
    }
  }

  async table(name) {
    if (typeof name !== 'string' || name === '') throw invalidOperation('a table name is needed');
    try {
      await this.store.ensureTable(name);
    } catch (err) {
      throw invalidOperation(`the SDK's SQLite store cannot define table ${JSON.stringify(name)}: ${messageOf(err)}`);
    }
    return name;
  }

  // forStore makes a protocol item what the SDK's store takes: ISO strings in the columns the
  // schema has as dates become Dates (the SDK's JSON reader does this to every answer; items
  // from the protocol, and PushError.getServerRecord(), which is a JSON copy, carry strings).
  forStore(table, item) {
    const out = { ...item };
    for (const [k, v] of Object.entries(out)) {
      if (typeof v !== 'string') continue;
      const t = this.store.typeOf(table, k);
      if (t === 'date') {
        const d = new Date(v);
        if (!Number.isNaN(d.getTime())) out[k] = d;
      }
    }
    return out;
  }

  async row(table, id) {
    return this.sc.lookup(table, id, true);
  }

  // Local writes.

  async write(op, table, item) {
    this.checkOpen();
    await this.table(table);
    if (!item || typeof item !== 'object' || Array.isArray(item)) throw invalidOperation(`${op}: item must be an object`);
    try {
      if (op === 'delete') {
        if (item.id === undefined || item.id === null) throw invalidOperation('delete: the item needs an id');
        await this.sc.del(table, { id: item.id });
        return {};
      }
      const instance = this.forStore(table, item);
      const written = op === 'insert' ? await this.sc.insert(table, instance) : await this.sc.update(table, instance);
      const row = await this.row(table, written.id);
      return row ? { item: row } : {};
    } catch (err) {
      throw classify(err, op);
    }
  }

  async lookup(table, id) {
    this.checkOpen();
    await this.table(table);
    let row;
    try {
      row = await this.row(table, id);
    } catch (err) {
      throw classify(err, 'lookup');
    }
    if (!row) throw notFound(`${table}/${id} is not in the local store`);
    return { item: row };
  }

  async read(table, query) {
    this.checkOpen();
    await this.table(table);
    const q = buildQuery(table, query);
    try {
      return { items: await this.sc.read(q) };
    } catch (err) {
      throw classify(err, 'read');
    }
  }

  async query(table, query) {
    this.checkOpen();
    const q = buildQuery(table, query);
    try {
      const items = await this.client.getTable(table).read(q);
      return { items: Array.from(items || []) };
    } catch (err) {
      throw classify(err, 'query');
    }
  }

  // Push, pull, purge.

  async push(tables) {
    this.checkOpen();
    if (Array.isArray(tables) && tables.length > 0) {
      // The SDK's push() takes no tables: it can push only some tables when the queue holds
      // nothing else.
      const named = tables.map((t) => String(t).toLowerCase());
      const others = (await this.store.operations()).filter((o) => !named.includes(String(o.tableName).toLowerCase()));
      if (others.length > 0) {
        throw unsupported(`push of ${tables.join(', ')} only: the SDK's push() pushes the whole queue and takes no tables ` +
          `(the queue holds operations of ${[...new Set(others.map((o) => o.tableName))].join(', ')})`);
      }
    }
    this.checkWedged();
    // Pushes run one at a time (the SDK's do too): the handler's bookkeeping is per push.
    const run = this.pushing.then(() => this.pushOnce());
    this.pushing = run.catch(() => {});
    return run;
  }

  async pushOnce() {
    const push = { observed: [], tries: new Map() };
    this.currentPush = push;
    let status = 'complete';
    let left;
    try {
      const conflicts = await this.sc.push();
      left = Array.from(conflicts || []);
    } catch (err) {
      const http = httpStatusOf(err);
      if (http === 0) status = 'cancelled-by-network-error';
      else if (http === 401) status = 'cancelled-by-authentication-error';
      else if (http !== undefined) status = 'cancelled-by-error'; // the SDK stops at any other error
      else status = 'cancelled-by-store-error';
      if (http === undefined && this.hooks.log) this.hooks.log(`${this.name}: push failed without a request: ${err && err.stack ? err.stack : messageOf(err)}`);
      // The SDK's push rejects with the error that stopped it and drops the conflicts it
      // collected before: the handler saw them.
      left = push.observed.filter((pe) => !pe.isHandled && ![0, 401].includes(statusOf(pe)));
    } finally {
      this.currentPush = null;
    }
    this.errors = left;
    return { status, errors: await this.describeAll(left) };
  }

  async pull(table, query, queryId) {
    this.checkOpen();
    await this.table(table);
    if (queryId !== undefined && queryId !== null && typeof queryId !== 'string') throw invalidQuery('queryId: want a string');
    const q = buildQuery(table, query);
    this.checkWedged();
    const settings = this.options.pageSize ? { pageSize: this.options.pageSize } : undefined;
    try {
      await this.sc.pull(q, queryId || null, settings);
    } catch (err) {
      throw classify(err, 'pull');
    }
    return {};
  }

  async purge(table, query, queryId, force) {
    this.checkOpen();
    await this.table(table);
    const q = buildQuery(table, query);
    this.checkWedged();
    // The SDK's purge takes no query id: it always forgets every delta token of the table.
    void queryId;
    try {
      await this.sc.purge(q, Boolean(force));
    } catch (err) {
      throw classify(err, 'purge');
    }
    return {};
  }

  // The push handler: the strategy, and an eye on every error the push meets.

  pushHandler() {
    return {
      onConflict: (pe) => this.onPushError(pe, true),
      onError: (pe) => this.onPushError(pe, false),
    };
  }

  async onPushError(pe, conflict) {
    const push = this.currentPush;
    try {
      if (conflict) await this.settle(pe, push);
    } finally {
      if (push && !pe.isHandled) push.observed.push(pe);
    }
  }

  async settle(pe, push) {
    const action = pe.getAction();
    const table = pe.getTableName();
    const server = serverItemOf(pe);
    const client = pe.getClientRecord();
    if (this.options.treatIdenticalAsSuccess && server && action !== 'delete' && client && sameUserFields(client, server)) {
      await pe.cancelAndUpdate(this.forStore(table, { ...server, id: client.id }));
      return;
    }
    switch (this.strategy) {
      case 'client-wins': {
        if (!server || server.version === undefined || server.version === null) return;
        const id = (await this.describe(pe)).itemId;
        const key = `${table.toLowerCase()}|${String(id).toLowerCase()}`;
        const tries = push ? push.tries.get(key) || 1 : 1;
        if (tries >= this.maxTries) return; // recorded: the push goes on
        if (push) push.tries.set(key, tries + 1);
        // Only id and version: the SDK's update() and changeAction() merge it into the row,
        // which the retry then sends whole (a copy of the client record would carry its dates
        // as strings, which the store's date columns refuse).
        const sent = client && client.id !== undefined ? client.id : id;
        if (action === 'delete') await pe.changeAction('delete', { id: sent, version: server.version });
        else if (action === 'insert' && statusOf(pe) === 409) await pe.changeAction('update', { id: sent, version: server.version });
        else await pe.update({ id: sent, version: server.version });
        return;
      }
      case 'server-wins': {
        if (!server) return;
        if (action === 'delete') {
          // The SDK's cancelAndUpdate refuses a delete ("Cannot update a deleted record"):
          // drop the operation, then put the server's row back.
          await pe.cancel();
          if (server.deleted !== true) await this.store.upsert(table, this.forStore(table, server));
        } else if (server.deleted === true) {
          await pe.cancelAndDiscard();
        } else {
          await pe.cancelAndUpdate(this.forStore(table, { ...server, id: client ? client.id : server.id }));
        }
        return;
      }
      default: // manual: left for resolve
    }
  }

  // describe is a PushError in the protocol's words (computed once, while its operation is
  // still queued).
  async describe(pe) {
    if (pe.conflictlab) return pe.conflictlab;
    const action = pe.getAction();
    const table = pe.getTableName();
    const client = pe.getClientRecord();
    const server = serverItemOf(pe);
    let itemId = client && client.id !== undefined ? client.id : undefined;
    const req = pe.getError() && pe.getError().request;
    if (itemId === undefined && req && req.conflictlabRequest) {
      const path = String(req.conflictlabRequest.url).split('?')[0].split('/');
      itemId = decodeURIComponent(path[path.length - 1]);
    }
    if (itemId === undefined && server && server.id !== undefined) itemId = server.id;
    let item = client;
    if (action === 'delete') {
      item = { id: itemId };
      const op = (await this.store.operations()).find((o) => o.tableName === table && sameId(o.itemId, itemId));
      if (op && op.metadata && op.metadata.version) item.version = op.metadata.version;
    }
    const out = {
      table, itemId: itemId === undefined ? '' : String(itemId), kind: action, status: statusOf(pe),
      message: messageOf(pe.getError()),
    };
    if (item) out.item = jsonCopy(item);
    if (server) out.serverItem = server;
    pe.conflictlab = out;
    return out;
  }

  async describeAll(list) {
    const out = [];
    for (const pe of list) out.push(await this.describe(pe));
    return out;
  }

  // liveErrors are the unhandled errors whose operation is still queued (a forced purge, a
  // collapse that removed it, or a later write that settled it, drops them).
  async liveErrors() {
    if (this.errors.length === 0) return [];
    const ops = await this.store.operations();
    const live = [];
    for (const pe of this.errors) {
      const e = await this.describe(pe);
      if (ops.some((o) => o.tableName.toLowerCase() === e.table.toLowerCase() && sameId(o.itemId, e.itemId))) live.push(pe);
    }
    this.errors = live;
    return live;
  }

  async errorList() {
    this.checkOpen();
    return { errors: await this.describeAll(await this.liveErrors()) };
  }

  async resolve(table, itemId, how, item) {
    this.checkOpen();
    const live = await this.liveErrors();
    let pe;
    for (const candidate of live) {
      const e = await this.describe(candidate);
      if (e.table.toLowerCase() === String(table).toLowerCase() && sameId(e.itemId, itemId)) pe = candidate;
    }
    if (!pe) throw notFound(`no unhandled error for ${table}/${itemId}`);
    const e = await this.describe(pe);
    const action = pe.getAction();
    const client = pe.getClientRecord();
    const id = client && client.id !== undefined ? client.id : e.itemId;
    try {
      switch (how) {
        case 'cancel-and-discard':
          await pe.cancelAndDiscard();
          break;
        case 'cancel-and-update': {
          const keep = item || e.serverItem;
          if (!keep) throw invalidOperation(`cancel-and-update of ${table}/${itemId}: no item, and the error has no server item`);
          if (action === 'delete') {
            // cancelAndUpdate refuses a delete: drop the operation, store the item.
            await pe.cancel();
            await this.store.upsert(pe.getTableName(), this.forStore(pe.getTableName(), { ...keep, id }));
          } else {
            await pe.cancelAndUpdate(this.forStore(pe.getTableName(), { ...keep, id }));
          }
          break;
        }
        case 'update-operation': {
          const next = item || { id, version: e.serverItem ? e.serverItem.version : undefined };
          if (action === 'delete') {
            // update() refuses a delete; changeAction keeps it a delete with the new version.
            await pe.changeAction('delete', { id, version: next.version });
          } else {
            await pe.update(this.forStore(pe.getTableName(), { ...next, id }));
          }
          break;
        }
        default:
          throw unsupported(`no resolution ${JSON.stringify(how)}`);
      }
    } catch (err) {
      throw classify(err, `resolve ${how}`);
    }
    this.errors = this.errors.filter((x) => x !== pe);
    return {};
  }

  // The store as the harness reads it.

  async operations() {
    const ops = await this.store.operations();
    return ops.map((o) => {
      const out = { id: String(o.id), kind: o.action, state: 'pending', table: o.tableName, itemId: String(o.itemId), sequence: o.id };
      if (o.action === 'delete') {
        out.item = { id: o.itemId };
        if (o.metadata && o.metadata.version) out.item.version = o.metadata.version;
      }
      return out;
    });
  }

  async pending() {
    this.checkOpen();
    return { operations: await this.operations() };
  }

  async snapshot(tables) {
    this.checkOpen();
    const rows = {};
    for (const t of Array.isArray(tables) ? tables : []) rows[t] = jsonCopy(await this.store.rows(t));
    const config = {};
    for (const tok of await this.store.deltaTokens()) {
      if (!tok.value) continue;
      config[`deltaToken|${String(tok.tableName).toLowerCase()}|${tok.id}`] = new Date(tok.value).toISOString();
    }
    return {
      rows,
      operations: await this.operations(),
      errors: await this.describeAll(await this.liveErrors()),
      config,
    };
  }

  async close() {
    if (this.closed) return {};
    this.closed = true;
    await this.store.close();
    return {};
  }
}

function statusOf(pe) {
  const s = httpStatusOf(pe.getError());
  return s === undefined ? 0 : s;
}

// serverItemOf is the server's row a conflict carries. PushError.getServerRecord() has it for
// a 412 only (MobileServiceTable sets serverInstance on 412): for a 409 the body is read from
// the request the error keeps (PushError.getError().request), which the SDK documents as the
// place for the server's response.
function serverItemOf(pe) {
  const s = pe.getServerRecord();
  if (s && typeof s === 'object') return s;
  const req = pe.getError() && pe.getError().request;
  if (req && [409, 412].includes(req.status) && typeof req.responseText === 'string' && req.responseText) {
    try {
      const body = JSON.parse(req.responseText);
      if (body && typeof body === 'object' && !Array.isArray(body) && body.id !== undefined) return body;
    } catch (_) { /* not a row */ }
  }
  return undefined;
}

function jsonCopy(v) { return v === undefined ? undefined : JSON.parse(JSON.stringify(v)); }

module.exports = { Device, buildQuery, checkConfig, STRATEGIES, SDK_MAX_TRIES };
