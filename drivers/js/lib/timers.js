'use strict';
// The SDK runs every step of its promises (Utilities/Promises.js) and of its task runners
// (Utilities/taskRunner.js) through setTimeout(fn, 0). Node makes that at least 1 ms, so a
// local insert, some fifty such steps, takes 50 ms (browsers clamp nested timers to 4 ms: it
// is slower there still). A zero (or 1 ms) timeout here runs as setImmediate: the same
// macrotask order among the SDK's own steps, without the idle millisecond. Nothing in the SDK
// waits for time to pass through such a timer. CONFLICTLAB_JS_REAL_TIMERS=1 keeps Node's own.

const realSetTimeout = global.setTimeout;
const realClearTimeout = global.clearTimeout;

function install() {
  if (process.env.CONFLICTLAB_JS_REAL_TIMERS === '1') return false;
  global.setTimeout = function setTimeout(fn, ms, ...args) {
    if (typeof fn === 'function' && !(Number(ms) > 1)) return setImmediate(fn, ...args);
    return realSetTimeout(fn, ms, ...args);
  };
  global.clearTimeout = function clearTimeout(t) {
    if (t && t.constructor && t.constructor.name === 'Immediate') return clearImmediate(t);
    return realClearTimeout(t);
  };
  return true;
}

module.exports = { install, realSetTimeout };
