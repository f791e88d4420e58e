'use strict';
// Errors as the protocol names them (docs/drivers.md): a kind, a message, and for HTTP
// errors the status. The SDK's own errors are plain Errors (sometimes thrown strings) with,
// for a failed request, the XMLHttpRequest at .request; a failed push wraps that error in a
// VError. classify reads them by what the SDK puts in them: the request's status, or the
// message of the check that threw.

class DriverError extends Error {
  constructor(kind, message, extra) {
    super(message);
    this.kind = kind;
    Object.assign(this, extra || {});
  }

  toProtocol() {
    const out = { kind: this.kind, message: this.message };
    if (this.status) out.status = this.status;
    if (this.pushStatus) out.pushStatus = this.pushStatus;
    if (this.errors) out.errors = this.errors;
    return out;
  }
}

const unsupported = (msg) => new DriverError('unsupported', msg);
const invalidOperation = (msg) => new DriverError('invalid-operation', msg);
const invalidQuery = (msg) => new DriverError('invalid-query', msg);
const notFound = (msg) => new DriverError('not-found', msg);
const internal = (msg) => new DriverError('internal', msg);

function messageOf(err) {
  if (err === null || err === undefined) return 'an error without a message';
  if (typeof err === 'string') return err;
  return err.message || String(err);
}

// causes lists err and the errors it wraps (VError's cause(), then .cause).
function causes(err) {
  const out = [];
  let e = err;
  for (let i = 0; e && i < 8; i++) {
    out.push(e);
    let next;
    if (typeof e.cause === 'function') {
      try { next = e.cause(); } catch (_) { next = undefined; }
    } else {
      next = e.cause || e.jse_cause;
    }
    e = next;
  }
  return out;
}

// httpStatusOf is the HTTP status of the request behind err: 0 for no answer, undefined
// when no request failed.
function httpStatusOf(err) {
  for (const e of causes(err)) {
    if (e && e.request && typeof e.request.status === 'number') return e.request.status;
  }
  return undefined;
}

// fromStatus is the error a failed request becomes.
function fromStatus(status, message) {
  if (status === 0) return new DriverError('network', message);
  if (status === 401) return new DriverError('auth', message, { status });
  if (status === 409 || status === 412) return new DriverError('conflict', message, { status });
  return new DriverError('http', message, { status });
}

// The SDK's local checks, by the words of their messages (sync/*.js, Utilities/Validate.js).
const INVALID_OPERATION = [
  /already exists in the table/,
  /not supported as a DELETE operation is pending/,
  /Condense not supported/,
  /is not valid\./,
  /cannot be null/,
  /is expected to be a value of type/,
  /Cannot update a deleted record/,
  /Only updating the record being pushed is allowed/,
  /Need a valid object/,
  /Invalid ID/,
];
const INVALID_QUERY = [
  /not supported in the pull query/,
  /Page size must be a positive integer/,
  // azure-odata-sql's parser, on a filter the local store cannot read
  /expected \(at index \d+\)/i,
  /Unknown (identifier|function)/i,
];
const BAD_RESPONSE = [
  /Pulled record does not have a valid ID/,
  /system property is missing/,
  /should be a valid date/,
  /invalid response from the server/,
];

// sqliteError is the SQLite error under err (better-sqlite3's codes are SQLITE_…).
function sqliteError(err) {
  return causes(err).find((e) => e && typeof e.code === 'string' && e.code.startsWith('SQLITE_'));
}

const LOCAL_WRITES = ['insert', 'update', 'delete'];

// classify turns an error of the SDK into a DriverError. what names the call: the op, first.
function classify(err, what) {
  if (err instanceof DriverError) return err;
  const message = messageOf(err);
  const status = httpStatusOf(err);
  if (status !== undefined) return fromStatus(status, `${what}: ${message}`);
  const sql = sqliteError(err);
  if (sql) {
    // The SDK's SQLite store wrote SQL that SQLite refuses: its INSERT and UPDATE name columns
    // unquoted (a property "from" or "order" is a syntax error), and azure-odata-sql's SQL for
    // some filters is not SQLite's.
    const op = what.split(' ')[0];
    const msg = `${what}: the SDK's SQLite store failed: ${sql.message} (${sql.code})`;
    if (LOCAL_WRITES.includes(op) || op === 'resolve') return invalidOperation(msg);
    if (op === 'read' || op === 'purge') return invalidQuery(msg);
    const e = internal(msg);
    e.original = err;
    return e;
  }
  const test = (list) => list.some((re) => re.test(message));
  if (/Cannot purge the table as it contains pending operations/.test(message)) {
    return new DriverError('purge-pending-changes', `${what}: ${message}`);
  }
  if (test(INVALID_QUERY)) return invalidQuery(`${what}: ${message}`);
  if (test(BAD_RESPONSE)) return new DriverError('bad-response', `${what}: ${message}`);
  if (test(INVALID_OPERATION)) return invalidOperation(`${what}: ${message}`);
  if (/Failed to serialize value/.test(message) && LOCAL_WRITES.includes(what.split(' ')[0])) {
    // the SDK's store refuses a value its column's type does not take (a string in a real column)
    return invalidOperation(`${what}: the SDK's SQLite store refused the value: ${message}`);
  }
  const e = internal(`${what}: the SDK failed in a way the driver does not know: ${message}`);
  e.original = err;
  return e;
}

module.exports = {
  DriverError, unsupported, invalidOperation, invalidQuery, notFound, internal,
  classify, httpStatusOf, fromStatus, messageOf,
};
