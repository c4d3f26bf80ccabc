'use strict';
/* Response streaming for lambdalab's Node.js runtime client (node_bootstrap.cjs), as aws-lambda-ric 3.x does it.

A handler wrapped in `awslambda.streamifyResponse(async (event, responseStream, context) => ...)` writes its
response as it goes: the client POSTs /invocation/{id}/response with `Lambda-Runtime-Function-Response-Mode:
streaming` and a chunked body, one chunk per write, and reports an error raised mid-stream in the HTTP
trailers `Lambda-Runtime-Function-Error-Type` and `Lambda-Runtime-Function-Error-Body` (base64 JSON).
Loaded by the bootstrap only when the handler streams, so other functions never pay for `stream`.
*/
const { Writable } = require('stream');

const TRAILERS = 'Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body';

module.exports = function streaming(kit) {
  const InvalidStreamingOperation = kit.runtimeError('InvalidStreamingOperation');

  /** The handler's `responseStream`: a Writable whose chunks go to the Runtime API as they are written. */
  class ResponseStream extends Writable {
    constructor(api, urlPath) {
      super({ highWaterMark: kit.highWaterMark });
      this.api = api;
      this.urlPath = urlPath;
      this.contentType = 'application/octet-stream';
      this.started = false;
      this.written = false;
      this.trailers = '';
      this.answered = new Promise((resolve) => { this.answer = resolve; });
      api.socket?.ref();  // until the stream ends, as Node's runtime's open request keeps its process alive
    }

    setContentType(contentType) {
      if (this.written) throw new InvalidStreamingOperation('Cannot set content-type, too late.');
      this.contentType = contentType;
    }

    write(chunk, encoding, callback) {
      if (typeof chunk !== 'string' && !Buffer.isBuffer(chunk) && chunk?.constructor !== Uint8Array) {
        chunk = JSON.stringify(chunk);
      }
      if (!this.written && typeof this._onBeforeFirstWrite === 'function') {
        this._onBeforeFirstWrite((first) => super.write(first));
      }
      this.written = true;
      return super.write(chunk, encoding, callback);
    }

    start() {  // the request's head goes out with the first chunk (or the end), once the content type is known
      if (this.started) return;
      this.started = true;
      this.api.request('POST', this.urlPath, null, 'Lambda-Runtime-Function-Response-Mode: streaming\r\n' +
        `Trailer: ${TRAILERS}\r\nContent-Type: ${this.contentType}\r\n`).then(this.answer);
    }

    _write(chunk, _encoding, callback) {
      this.start();
      if (chunk.length) {  // an empty chunk would end the body
        this.api.write(`${chunk.length.toString(16)}\r\n`);
        this.api.write(chunk);
        this.api.write('\r\n');
      }
      callback();
    }

    _final(callback) {
      this.start();
      this.api.write(`0\r\n${this.trailers}\r\n`);
      callback();
    }

    fail(err, then) {
      if (!this.writableEnded) {
        const error = kit.toRapidResponse(err);
        const body = Buffer.from(JSON.stringify(error)).toString('base64');
        this.trailers = `Lambda-Runtime-Function-Error-Type: ${String(error.errorType).replace(/[\r\n]/g, '')}\r\n` +
          `Lambda-Runtime-Function-Error-Body: ${body}\r\n`;
        this.end();
      }
      this.answered.then(then);
    }
  }

  return {
    /** One streaming invoke: the handler gets (event, responseStream, context) and must be async. */
    async invoke(runtime, id, headers, body) {
      let waitForEmptyEventLoop = true;
      const context = {
        get callbackWaitsForEmptyEventLoop() { return waitForEmptyEventLoop; },
        set callbackWaitsForEmptyEventLoop(value) { waitForEmptyEventLoop = value; },
      };
      const stream = new ResponseStream(runtime.api, `/invocation/${encodeURIComponent(id)}/response`);
      const scheduleNext = () => {
        kit.setBeforeExit(() => {});
        if (!waitForEmptyEventLoop) runtime.scheduleNext();
        else kit.setBeforeExit(() => setImmediate(runtime.scheduleNext));
      };
      const fail = (err) => {
        kit.logError('Invoke Error', err);
        stream.fail(err, scheduleNext);
      };
      kit.setBeforeExit(runtime.scheduleNext);
      try {
        const ctx = runtime.attachContext(context, headers);
        const result = runtime.handler(JSON.parse(body.toString()), stream, ctx);
        if (!(result && typeof result.then === 'function')) {
          fail('Streaming does not support non-async handlers.');
          return;
        }
        if (await result !== undefined) console.warn('Streaming handlers ignore return values.');
        await stream.answered;
        if (!stream.writableFinished) {
          fail('Response stream is not finished.');
          return;
        }
        scheduleNext();
      } catch (err) {
        fail(err);
      }
    },
  };
};
