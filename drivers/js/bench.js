#!/usr/bin/env node
'use strict';
// How fast the driver is, measured through the protocol as conflictlab drives it:
//   - start-up: spawning `node driver.js` until its hello is answered (node, the SDK, sqlite);
//   - insert+push: one local insert then a push of it, in a loop, on a memory and a sqlite store.
//
//   node drivers/js/bench.js [rounds]        (CONFLICTLAB_BIN: a conflictlab binary, else built)

const { Server, Driver, tempFile } = require('./test/harness');

async function main() {
  const rounds = Number(process.argv[2]) || 200;
  const starts = [];
  for (let i = 0; i < 5; i++) {
    const t = process.hrtime.bigint();
    const d = new Driver();
    await d.call('hello', { protocol: 1 });
    starts.push(Number(process.hrtime.bigint() - t) / 1e6);
    await d.shutdown();
  }
  starts.sort((a, b) => a - b);
  console.log(`start-up (spawn to hello answered): median ${starts[2].toFixed(0)} ms, min ${starts[0].toFixed(0)} ms (5 starts)`);

  const srv = await Server.start();
  try {
    for (const store of [{ kind: 'memory' }, { kind: 'sqlite', path: tempFile('bench.db') }]) {
      const d = new Driver();
      await d.call('hello', { protocol: 1 });
      await d.call('open', { device: 'b', url: srv.url, dialect: 'v2', installationId: 'bench', store, strategy: 'manual', options: {}, timeoutMs: 10000 });
      const t = process.hrtime.bigint();
      for (let i = 0; i < rounds; i++) {
        await d.call('insert', { device: 'b', table: 'bench', item: { id: `${store.kind}-${i}`, n: i, text: 'x' } });
        const r = await d.call('push', { device: 'b' });
        if (r.status !== 'complete' || r.errors.length) throw new Error(`push: ${JSON.stringify(r)}`);
      }
      const s = Number(process.hrtime.bigint() - t) / 1e9;
      console.log(`insert+push on ${store.kind}: ${(rounds / s).toFixed(1)} rounds/s (${rounds} rounds in ${s.toFixed(2)} s)`);
      await d.shutdown();
    }
  } finally {
    srv.stop();
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
