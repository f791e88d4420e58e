'use strict';
// The XMLHttpRequest the SDK finds at global.XMLHttpRequest under Node: xhr2's, with the
// device's time limit. The SDK creates its requests itself (DirectAjaxTransport) and has no
// timeout of its own; a device's service filter sets the limit around the one synchronous
// call that creates the request (withTimeout), so each device keeps its own.
//
// xhr2 ends a request that times out, is refused or is reset as a browser does: readyState 4
// with status 0, which the SDK reads as "Unexpected connection failure".

const XHR2 = require('xhr2');

let nextTimeout = 0;

class TimedXMLHttpRequest extends XHR2 {
  constructor(options) {
    super(options);
    if (nextTimeout > 0) this.timeout = nextTimeout;
  }
}

// A browser's XMLHttpRequest has withCredentials (CORS); xhr2 0.2.1 has not. The SDK looks for
// it to decide that XMLHttpRequest is usable at all (DirectAjaxTransport.supportsCurrentRuntime)
// and otherwise fails every request with "Unsupported browser".
TimedXMLHttpRequest.prototype.withCredentials = false;

// withTimeout runs fn with ms as the limit of every request fn creates.
function withTimeout(ms, fn) {
  const before = nextTimeout;
  nextTimeout = ms;
  try {
    return fn();
  } finally {
    nextTimeout = before;
  }
}

global.XMLHttpRequest = TimedXMLHttpRequest;

module.exports = { withTimeout, TimedXMLHttpRequest };
