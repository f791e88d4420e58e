'use strict';
// What the tests need around the driver: a conflictlab server (`conflictlab serve` on a free
// port, with its admin API) and the driver as a child process, spoken to as conflictlab does.
//
// The conflictlab binary is $CONFLICTLAB_BIN, else built from this checkout into a temporary
// folder (go build ./cmd/conflictlab).

const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const readline = require('readline');

const DRIVER = path.join(__dirname, '..', 'driver.js');
const REPO = path.join(__dirname, '..', '..', '..');

let built;
function conflictlabBinary() {
  if (process.env.CONFLICTLAB_BIN) return process.env.CONFLICTLAB_BIN;
  if (built) return built;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conflictlab-bin-'));
  const bin = path.join(dir, 'conflictlab');
  execFileSync('go', ['build', '-o', bin, './cmd/conflictlab'], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
  built = bin;
  return bin;
}

// Server is `conflictlab serve` on 127.0.0.1, port 0.
class Server {
  static start(args = []) {
    return new Promise((resolve, reject) => {
      const proc = spawn(conflictlabBinary(), ['serve', '--addr', '127.0.0.1:0', '--seed', '1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      proc.stderr.on('data', (b) => { err += b; });
      proc.on('exit', (code) => reject(new Error(`conflictlab serve exited (${code}): ${err}`)));
      const rl = readline.createInterface({ input: proc.stdout });
      rl.on('line', (line) => {
        const m = /serving \S+ tables on (http:\/\/\S+)/.exec(line);
        if (m) resolve(new Server(proc, m[1]));
      });
    });
  }

  constructor(proc, url) {
    this.proc = proc;
    this.url = url;
    this.admin = url + '/_conflictlab';
  }

  async adminCall(method, p, body) {
    const res = await fetch(this.admin + p, {
      method, body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    });
    const text = await res.text();
    if (res.status >= 400) throw new Error(`${method} ${p}: ${res.status} ${text}`);
    return text;
  }

  // write is a direct server-side write (op: write, insert, update, delete, undelete).
  async write(table, id, op, patch = {}) {
    return JSON.parse(await this.adminCall('POST', `/tables/${table}/${encodeURIComponent(id)}?op=${op}`, patch));
  }

  async rows(table) {
    const rows = JSON.parse(await this.adminCall('GET', `/tables/${table}`));
    const byId = {};
    for (const r of rows) byId[r.id] = r;
    return byId;
  }

  async history() {
    const text = await this.adminCall('GET', '/history');
    return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
  }

  // requests are the table requests of the history since seq, as "METHOD /path".
  async requests(since = 0) {
    return (await this.history()).filter((e) => e.seq > since && e.method).map((e) => `${e.method} ${e.path}`);
  }

  async lastSeq() {
    const h = await this.history();
    return h.length ? h[h.length - 1].seq : 0;
  }

  fault(rule) { return this.adminCall('POST', '/faults', rule); }
  heal() { return this.adminCall('DELETE', '/faults'); }
  reset() { return this.adminCall('POST', '/reset'); }

  stop() {
    this.proc.removeAllListeners('exit');
    this.proc.kill('SIGTERM');
  }
}

// Driver is driver.js (or another driver's command line) as a child process; call sends one
// request and resolves with the answer.
class Driver {
  constructor(args = [], command = [process.execPath, DRIVER]) {
    this.proc = spawn(command[0], [...command.slice(1), ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.nextId = 0;
    this.waiting = new Map();
    this.stderr = '';
    this.lines = [];
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    this.proc.stderr.on('data', (b) => { this.stderr += b; });
    const rl = readline.createInterface({ input: this.proc.stdout });
    rl.on('line', (line) => {
      this.lines.push(line);
      const msg = JSON.parse(line); // a line that is not JSON fails the test loudly
      const w = this.waiting.get(msg.id);
      if (!w) throw new Error(`an answer to no request: ${line}`);
      this.waiting.delete(msg.id);
      w(msg);
    });
  }

  // send writes one request and resolves with the whole answer ({id, ok, result|error}).
  send(op, args = {}) {
    const id = ++this.nextId;
    const p = new Promise((resolve) => this.waiting.set(id, resolve));
    this.proc.stdin.write(JSON.stringify({ id, op, ...args }) + '\n');
    return p.then((msg) => {
      if (msg.id !== id) throw new Error(`answer ${msg.id} to request ${id}`);
      return msg;
    });
  }

  // call resolves with the result, and rejects with the error of an answer that is not ok.
  async call(op, args = {}) {
    const msg = await this.send(op, args);
    if (!msg.ok) {
      const e = new Error(`${op}: ${msg.error.kind}: ${msg.error.message}`);
      e.answer = msg.error;
      throw e;
    }
    return msg.result;
  }

  // fails resolves with the error of an answer that must not be ok.
  async fails(op, args = {}) {
    const msg = await this.send(op, args);
    if (msg.ok) throw new Error(`${op} should have failed, answered ${JSON.stringify(msg.result)}`);
    return msg.error;
  }

  async shutdown() {
    const res = await this.send('shutdown');
    const exit = await this.exited;
    return { res, exit };
  }

  kill() { this.proc.kill('SIGKILL'); }
}

function tempFile(name) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conflictlab-js-'));
  return path.join(dir, name);
}

module.exports = { Server, Driver, tempFile, conflictlabBinary };
