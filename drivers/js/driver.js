#!/usr/bin/env node
'use strict';
// conflictlab's driver for the Azure Mobile Apps JavaScript client (npm azure-mobile-apps-client):
// it speaks the driver protocol of docs/drivers.md (version 1, JSON Lines on stdin/stdout) and
// plays every request on the real SDK, under plain Node.
//
//   node drivers/js/driver.js            # what conflictlab run --client js starts
//   node drivers/js/driver.js --verbose  # also logs every request and answer to stderr

// stdout carries answers and nothing else: whatever the SDK or a library prints goes to stderr.
for (const name of ['log', 'info', 'warn', 'debug', 'trace']) {
  console[name] = (...args) => console.error(...args);
}

require('./lib/timers').install();

const { AsyncLocalStorage } = require('async_hooks');
const readline = require('readline');
const { Device } = require('./lib/device');
const { DriverError, internal, unsupported, messageOf } = require('./lib/errors');
const sdkVersion = require('azure-mobile-apps-client/package.json').version;

const PROTOCOL = 1;
const verbose = process.argv.includes('--verbose') || process.argv.includes('-v');

const CAPABILITIES = {
  strategies: ['client-wins', 'server-wins', 'manual'],
  options: ['treatIdenticalAsSuccess', 'skippedRowsMoveToken', 'pageSize', 'maxTries'],
  stores: ['memory', 'sqlite'],
  dialects: ['v2'],
  ops: ['insert', 'update', 'delete', 'lookup', 'read', 'query', 'push', 'pull', 'purge', 'resolve'],
};

const requests = new AsyncLocalStorage();
const devices = new Map();
const opening = new Map(); // device -> the promise of its open
const inflight = new Set();
let shuttingDown = false;

function log(msg) { process.stderr.write(`conflictlab-js: ${msg}\n`); }

function write(msg) {
  let line;
  try {
    line = JSON.stringify(msg);
  } catch (err) {
    line = JSON.stringify({ id: msg.id, ok: false, error: { kind: 'internal', message: `cannot encode the answer: ${messageOf(err)}` } });
  }
  if (verbose) log(`< ${line.length > 2000 ? line.slice(0, 2000) + '…' : line}`);
  process.stdout.write(line + '\n');
}

// device is the open device a request names; a request that arrives while its device is
// still opening waits for the open.
async function device(req) {
  if (opening.has(req.device)) await opening.get(req.device).catch(() => {});
  const d = devices.get(req.device);
  if (!d) throw internal(`no open device ${JSON.stringify(req.device)}`);
  return d;
}

async function handle(req) {
  switch (req.op) {
    case 'hello':
      if (req.protocol !== PROTOCOL) throw unsupported(`protocol ${req.protocol}; this driver speaks ${PROTOCOL}`);
      return { protocol: PROTOCOL, driver: 'conflictlab-js', sdk: 'azure-mobile-apps-client', version: sdkVersion, capabilities: CAPABILITIES };
    case 'open': {
      if (typeof req.device !== 'string' || req.device === '') throw internal('open: a device name is needed');
      if (devices.has(req.device) || opening.has(req.device)) throw internal(`device ${req.device} is open already`);
      const p = Device.open(req, {
        log,
        context: () => requests.getStore(),
        syncRequests: (name) => [...inflight].filter((c) => c.device === name && ['push', 'pull', 'purge'].includes(c.op)),
      });
      opening.set(req.device, p);
      try {
        devices.set(req.device, await p);
      } finally {
        opening.delete(req.device);
      }
      return {};
    }
    case 'close': {
      const d = await device(req);
      devices.delete(req.device);
      return d.close();
    }
    case 'insert':
    case 'update':
    case 'delete':
      return (await device(req)).write(req.op, req.table, req.item);
    case 'lookup':
      return (await device(req)).lookup(req.table, req.itemId);
    case 'read':
      return (await device(req)).read(req.table, req.query);
    case 'query':
      return (await device(req)).query(req.table, req.query);
    case 'push':
      return (await device(req)).push(req.tables);
    case 'pull':
      return (await device(req)).pull(req.table, req.query, req.queryId);
    case 'purge':
      return (await device(req)).purge(req.table, req.query, req.queryId, req.force);
    case 'pending':
      return (await device(req)).pending();
    case 'errors':
      return (await device(req)).errorList();
    case 'resolve':
      return (await device(req)).resolve(req.table, req.itemId, req.how, req.item);
    case 'snapshot':
      return (await device(req)).snapshot(req.tables);
    default:
      throw unsupported(`unknown op ${JSON.stringify(req.op)}`);
  }
}

// answer runs one request and writes its answer, exactly once.
function answer(req) {
  const ctx = { id: req.id, op: req.op, device: req.device, answered: false };
  const aborted = new Promise((_, reject) => { ctx.abort = reject; });
  aborted.catch(() => {});
  const reply = (result, err) => {
    if (ctx.answered) return;
    ctx.answered = true;
    inflight.delete(ctx);
    if (err === undefined) {
      write({ id: req.id, ok: true, result: result === undefined ? {} : result });
      return;
    }
    let de = err;
    if (!(err instanceof DriverError)) {
      de = internal(`${req.op}: ${messageOf(err)}`);
      log(`${req.op} (request ${req.id}) failed inside the driver: ${err && err.stack ? err.stack : messageOf(err)}`);
    } else if (de.kind === 'internal') {
      log(`${req.op} (request ${req.id}): ${de.message}${de.original && de.original.stack ? '\n' + de.original.stack : ''}`);
    }
    write({ id: req.id, ok: false, error: de.toProtocol() });
  };
  ctx.fail = (err) => reply(undefined, err);
  inflight.add(ctx);
  requests.run(ctx, () => {
    Promise.race([Promise.resolve().then(() => handle(req)), aborted]).then((r) => reply(r), (e) => reply(undefined, e));
  });
  return ctx;
}

async function shutdown(req) {
  shuttingDown = true;
  // Let what is running end (briefly: conflictlab kills the process 5 s after asking).
  const deadline = Date.now() + 3000;
  while ([...inflight].some((c) => c !== req) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  for (const [name, d] of devices) {
    devices.delete(name);
    await d.close().catch((err) => log(`closing ${name}: ${messageOf(err)}`));
  }
  if (req) write({ id: req.id, ok: true, result: {} });
  process.exit(0);
}

function onLine(line) {
  if (line.trim() === '') return;
  if (verbose) log(`> ${line.length > 2000 ? line.slice(0, 2000) + '…' : line}`);
  let req;
  try {
    req = JSON.parse(line);
  } catch (err) {
    const m = /"id"\s*:\s*(-?\d+)/.exec(line);
    log(`not a JSON request (${messageOf(err)}): ${line.slice(0, 200)}`);
    if (m) write({ id: Number(m[1]), ok: false, error: { kind: 'internal', message: `not a JSON request: ${messageOf(err)}` } });
    return;
  }
  if (!req || typeof req !== 'object' || !Number.isInteger(req.id)) {
    log(`a request needs an integer id: ${line.slice(0, 200)}`);
    return;
  }
  if (shuttingDown) {
    write({ id: req.id, ok: false, error: { kind: 'internal', message: 'the driver is shutting down' } });
    return;
  }
  if (req.op === 'shutdown') {
    shutdown(req);
    return;
  }
  answer(req);
}

// A throw or rejection nothing caught: a bug, of the driver or of the SDK. It is logged, and
// the request it happened under (when known) is answered internal rather than left hanging.
function unexpected(what, err) {
  log(`${what}: ${err && err.stack ? err.stack : messageOf(err)}`);
  const ctx = requests.getStore();
  if (ctx && !ctx.answered && ctx.fail) ctx.fail(internal(`${what} while the driver ran ${ctx.op}: ${messageOf(err)}`));
}
process.on('uncaughtException', (err) => unexpected('uncaught exception', err));
process.on('unhandledRejection', (err) => unexpected('unhandled rejection', err));

const rl = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
rl.on('line', onLine);
rl.on('close', () => { if (!shuttingDown) shutdown(null); });
