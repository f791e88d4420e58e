// The real Azure Mobile Apps Node backend (azure-mobile-apps 4.0.2 on express 4 with its
// sqlite provider), set up as its users set it up: dynamic schema and soft delete on every
// table. conflictlab's tests start it through the Go package peers/nodepeer.
//
// What we add is small and outside the table routes: a loopback-only listener on a port the
// caller may leave to the system, one line on stdout that tells the caller the URL, and two
// routes of our own under /_peer/ (reset and info). Nothing here changes how the tables
// answer: the point of the peer is to be the real thing.
//
// Settings, from the environment:
//   CONFLICTLAB_PEER_PORT        port on 127.0.0.1 (default 0: the system picks one)
//   CONFLICTLAB_PEER_DB          the sqlite file (default: a new file in a new temporary
//                                folder, removed on exit)
//   CONFLICTLAB_PEER_TABLES      comma-separated table names (default: DEFAULT_TABLES)
//   CONFLICTLAB_PEER_PAGE_SIZE   the default $top (azure-mobile-apps' pageSize, default 50)
//   CONFLICTLAB_PEER_MAX_TOP     the largest $top accepted (azure-mobile-apps' maxTop, 1000)
//   CONFLICTLAB_PEER_LOG         azure-mobile-apps' log level (default "error"), on stderr
//   CONFLICTLAB_PEER_STDIN_EXIT  "1": exit when stdin closes, so a test process that dies
//                                cannot leave this one behind
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const express = require('express');
const winston = require('winston');
const azureMobileApps = require('azure-mobile-apps');
const dataModule = require('azure-mobile-apps/src/data');
const amaPackage = require('azure-mobile-apps/package.json');

// The tables the scenario catalogue, the conformance suite and the property tests write to.
const DEFAULT_TABLES = ['todoitem', 'todo', 'tag', 'pause', 'settings', 'netitem', 'iositem', 'other', 'a', 'b', 'c'];

function intSetting(name, def) {
    const raw = process.env[name];
    if (raw === undefined || raw === '') return def;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) {
        fail(`${name}=${JSON.stringify(raw)}: want a non-negative integer`);
    }
    return n;
}

function fail(message) {
    process.stderr.write(`conflictlab-node-peer: ${message}\n`);
    process.exit(2);
}

const port = intSetting('CONFLICTLAB_PEER_PORT', 0);
const pageSize = intSetting('CONFLICTLAB_PEER_PAGE_SIZE', 50);
const maxTop = intSetting('CONFLICTLAB_PEER_MAX_TOP', 1000);
if (pageSize < 1) fail('CONFLICTLAB_PEER_PAGE_SIZE must be at least 1');
const tables = (process.env.CONFLICTLAB_PEER_TABLES || DEFAULT_TABLES.join(','))
    .split(',').map((t) => t.trim()).filter((t) => t !== '');
for (const t of tables) {
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(t)) fail(`table name ${JSON.stringify(t)}: want letters, digits and _`);
}

let dbFile = process.env.CONFLICTLAB_PEER_DB;
let ownDir = null;
if (!dbFile) {
    ownDir = fs.mkdtempSync(path.join(os.tmpdir(), 'conflictlab-node-peer-'));
    dbFile = path.join(ownDir, 'peer.sqlite');
}

const configuration = {
    debug: false,
    homePage: false,
    swagger: false,
    pageSize: pageSize,
    maxTop: maxTop,
    data: { provider: 'sqlite', filename: dbFile, dynamicSchema: true },
    logging: {
        level: process.env.CONFLICTLAB_PEER_LOG || 'error',
        // stdout carries only the URL line; everything azure-mobile-apps says goes to stderr
        transports: [new winston.transports.Console({
            stderrLevels: ['error', 'warn', 'info', 'verbose', 'debug', 'silly'],
            timestamp: true,
        })],
    },
};

const app = express();
const mobileApp = azureMobileApps(configuration);
for (const t of tables) {
    mobileApp.tables.add(t, { softDelete: true, dynamicSchema: true });
}
const data = dataModule(mobileApp.configuration);

// Ours, not azure-mobile-apps': mounted before it so the table routes stay exactly as shipped.
const peer = express.Router();

// POST /_peer/reset: every table back to how a fresh server has it. Rows, columns added by
// dynamic schema and the provider's cached idea of those columns all go, so the next run sees
// the schema a fresh database would (Node returns every schema column, null when unset: a
// column left over from another run would show up in this run's rows).
peer.post('/reset', (req, res) => {
    const defs = mobileApp.tables.configuration;
    const statements = [];
    for (const name of Object.keys(defs)) {
        statements.push({ sql: `DROP TABLE IF EXISTS [${name}]` });
        statements.push({ sql: 'DELETE FROM [__types] WHERE [table] = @table', parameters: { table: name } });
    }
    // __types does not exist before the first write to any table.
    data.execute([{ sql: 'CREATE TABLE IF NOT EXISTS [__types] ([table] TEXT, [name] TEXT, [type] TEXT)' }].concat(statements))
        .then(() => {
            for (const name of Object.keys(defs)) delete defs[name].sqliteColumns;
            // As at start: every declared table exists, with its system columns only.
            return mobileApp.tables.initialize();
        })
        .then(() => res.status(200).json({ reset: Object.keys(defs) }))
        .catch((err) => res.status(500).json({ error: `reset: ${err && err.message ? err.message : err}` }));
});

// GET /_peer/info: what this server offers, for a harness that wants to know without probing.
peer.get('/info', (req, res) => {
    res.json({
        server: 'azure-mobile-apps',
        version: amaPackage.version,
        node: process.version,
        provider: 'sqlite',
        dynamicSchema: true,
        softDelete: true,
        pageSize: pageSize,
        maxTop: maxTop,
        tables: Object.keys(mobileApp.tables.configuration),
    });
});

app.use('/_peer', peer);
app.use(mobileApp);

let server;
mobileApp.tables.initialize()
    .then(() => {
        server = app.listen(port, '127.0.0.1', () => {
            const addr = server.address();
            // The one line a caller waits for; keep its form: peers/nodepeer parses it.
            process.stdout.write(`conflictlab-node-peer listening on http://127.0.0.1:${addr.port}\n`);
        });
        server.on('error', (err) => fail(`listen on 127.0.0.1:${port}: ${err.message}`));
    })
    .catch((err) => fail(`initialize tables: ${err && err.stack ? err.stack : err}`));

function shutdown(code) {
    if (ownDir) {
        try { fs.rmSync(ownDir, { recursive: true, force: true }); } catch (e) { /* best effort */ }
    }
    process.exit(code);
}
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
if (process.env.CONFLICTLAB_PEER_STDIN_EXIT === '1') {
    process.stdin.on('end', () => shutdown(0));
    process.stdin.on('error', () => shutdown(0));
    process.stdin.resume();
}
