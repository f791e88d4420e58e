#!/usr/bin/env node
'use strict';
// How fast the driver is, measured through the protocol as conflictlab drives it, side by side
// with conflictlab's own Go client served the same way (`conflictlab driver serve`):
//   - start-up: spawning the driver until its hello is answered;
//   - insert+push: one local insert then a push of it, in a loop, on a memory and a sqlite store.
//
//   node drivers/js/bench.js [rounds]        (CONFLICTLAB_BIN: a conflictlab binary, else built)

const { Server, Driver, tempFile, conflictlabBinary } = require('./test/harness');

async function startup(command) {
  const times = [];
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    const d = new Driver([], command);
    await d.call('hello', { protocol: 1 });
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    await d.shutdown();
  }
  return times.sort((a, b) => a - b)[2];
}

async function rounds(srv, command, store, n) {
  const d = new Driver([], command);
  await d.call('hello', { protocol: 1 });
  await d.call('open', { device: 'b', url: srv.url, dialect: 'v2', installationId: 'bench', store, strategy: 'manual', options: {}, timeoutMs: 10000 });
  const table = `bench${Math.floor(Math.random() * 1e9)}`;
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    await d.call('insert', { device: 'b', table, item: { id: `r${i}`, n: i, text: 'x' } });
    const r = await d.call('push', { device: 'b' });
    if (r.status !== 'complete' || (r.errors && r.errors.length)) throw new Error(`push: ${JSON.stringify(r)}`);
  }
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  await d.shutdown();
  return n / s;
}

async function main() {
  const n = Number(process.argv[2]) || 200;
  const drivers = { js: undefined, 'go (driver serve)': [conflictlabBinary(), 'driver', 'serve'] };
  const srv = await Server.start();
  const out = {};
  try {
    for (const [name, command] of Object.entries(drivers)) {
      out[name] = {
        startMs: await startup(command),
        memory: await rounds(srv, command, { kind: 'memory' }, n),
        sqlite: await rounds(srv, command, { kind: 'sqlite', path: tempFile('bench.db') }, n),
      };
    }
  } finally {
    srv.stop();
  }
  console.log(`driver               start-up (median of 5)   insert+push rounds/s (memory, sqlite; ${n} rounds)`);
  for (const [name, r] of Object.entries(out)) {
    console.log(`${name.padEnd(20)} ${r.startMs.toFixed(0).padStart(6)} ms               ${r.memory.toFixed(0).padStart(6)}  ${r.sqlite.toFixed(0).padStart(6)}`);
  }
  const js = out.js;
  const go = out['go (driver serve)'];
  console.log(`js/go: start-up ${(js.startMs / go.startMs).toFixed(1)}x as long; insert+push ${(js.memory / go.memory).toFixed(2)}x (memory), ${(js.sqlite / go.sqlite).toFixed(2)}x (sqlite) the rate`);
}

main().catch((err) => { console.error(err); process.exit(1); });
