'use strict';
/* Node.js runtime process for lambdalab: our stand-in for AWS's aws-lambda-ric (the Node.js runtime client).

The engine starts it as `node <heap flags> node_bootstrap.cjs` with cwd = the task root. It owns:
  * the Runtime API client (2018-06-01): one keep-alive HTTP/1.1 connection to $AWS_LAMBDA_RUNTIME_API;
  * Init: resolving $_HANDLER (`path/module.fn.path`) as Node's runtime does (.js as CommonJS unless a
    package.json says "type": "module", .mjs by import(), .cjs), and reporting failures to /init/error;
  * the invoke loop: the event, the `context` (callbackWaitsForEmptyEventLoop, succeed/fail/done,
    getRemainingTimeInMillis), async and callback handlers, error reports;
  * Lambda's Node.js text log format on stdout: `<ISO time>\t<request id>\t<LEVEL>\t<message>`.

Rules:
  * No npm dependencies; never loads lambdalab. Cold start is measured: only modules Node has already loaded
    at start-up are required, plus `net` (about 3 ms; `http` would cost about 5).
  * Faithful to aws-lambda-ric 3.x (what Lambda's nodejs runtimes run): same error types, messages, JSON shapes
    and log lines, and the same event-loop rules (a callback's result waits for an empty loop by default).
  * Log lines are written synchronously to fd 1, so they reach the engine before the result does.
  * After a result or an error, the next GET /next follows on the same connection without waiting for the 202
    (the Runtime API answers in order): one round trip less per warm invoke than Node's runtime, same outcome.
  * A handler wrapped in awslambda.streamifyResponse is served by node_streaming.cjs, loaded only then.
  * No timer of ours is pending between invokes (the engine freezes the process while it waits on /next).
  * If the platform goes away (EOF or socket error) the process exits 0 without a word.
*/
const fs = require('fs');
const net = require('net');
const path = require('path');
const util = require('util');

const RUNTIME_PATH = '/2018-06-01/runtime';
const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');  // where Node's runtime keeps it (tools read it)
const TENANT_ID = Symbol.for('aws.lambda.runtime.tenantId');

// ------------------------------------------------------------------------------------------------- logs
const LEVELS = { TRACE: 1, DEBUG: 2, INFO: 3, WARN: 4, ERROR: 5, FATAL: 6 };

function writeOut(text) {
  const data = Buffer.from(text);
  for (let done = 0; done < data.length;) {
    try {
      done += fs.writeSync(1, data, done);
    } catch (err) {
      if (err.code !== 'EAGAIN') return;  // stdout closed: nothing to tell anyone
    }
  }
}

function textLine(level, message, ...params) {
  const text = util.format(message, ...params).replace(/\n/g, '\r');  // one line = one log event, as on Lambda
  writeOut(`${new Date().toISOString()}\t${global[REQUEST_ID]}\t${level}\t${text}\n`);
}

function errorFields(err) {
  return { errorType: err?.constructor?.name ?? 'UnknownError', errorMessage: err.message };
}

function jsonErrors(_key, value) {
  if (!(value instanceof Error)) return value;
  const stack = typeof value.stack === 'string' ? value.stack.split('\n') : value.stack;
  return Object.assign({ ...errorFields(value), stackTrace: stack }, value);
}

/** AWS_LAMBDA_LOG_FORMAT=JSON: {timestamp, level, requestId, [tenantId], message, [errorType...]} per line. */
function jsonLine(level, ...params) {
  const record = { timestamp: new Date().toISOString(), level, requestId: global[REQUEST_ID] };
  if (global[TENANT_ID] != null) record.tenantId = global[TENANT_ID];
  let text;
  if (params.length === 1) {
    record.message = params[0];
    try {
      text = JSON.stringify(record, jsonErrors);
    } catch (_) {
      record.message = util.format(record.message);
      text = JSON.stringify(record);
    }
  } else {
    record.message = util.format(...params);
    const err = params.find((p) => p instanceof Error);
    if (err) {
      Object.assign(record, errorFields(err), { stackTrace: typeof err.stack === 'string' ? err.stack.split('\n') : [] });
    }
    text = JSON.stringify(record);
  }
  writeOut(text.replace(/\n/g, '\r') + '\n');
}

let logLine = textLine;
let json = false;

function patchConsole() {
  json = (process.env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  logLine = json ? jsonLine : textLine;
  const threshold = LEVELS[(process.env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || LEVELS.TRACE;
  const make = (level) => (LEVELS[level] >= threshold ? (msg, ...params) => logLine(level, msg, ...params) : () => {});
  console.trace = make('TRACE');
  console.debug = make('DEBUG');
  console.info = make('INFO');
  console.log = console.info;
  console.warn = make('WARN');
  console.error = make('ERROR');
  console.fatal = (msg, ...params) => logLine('FATAL', msg, ...params);  // never filtered, as Node's runtime
}

// ----------------------------------------------------------------------------------------------- errors
function runtimeError(name) {  // Node's runtime error classes: `Runtime.<Name>` in name and stack
  const cls = { [name]: class extends Error {} }[name];
  cls.prototype.name = `Runtime.${name}`;
  return cls;
}
const ImportModuleError = runtimeError('ImportModuleError');
const HandlerNotFound = runtimeError('HandlerNotFound');
const MalformedHandlerName = runtimeError('MalformedHandlerName');
const UserCodeSyntaxError = runtimeError('UserCodeSyntaxError');
class UnhandledPromiseRejection extends runtimeError('UnhandledPromiseRejection') {
  constructor(reason, promise) {
    super(reason);
    this.reason = reason;
    this.promise = promise;
  }
}

function looksLikeError(obj) {
  return obj && typeof obj.name === 'string' && typeof obj.message === 'string' && typeof obj.stack === 'string' &&
    obj.name && obj.message && obj.stack;
}

/** The body posted to /error and /init/error: {errorType, errorMessage, trace}. */
function toRapidResponse(error) {
  try {
    if (util.types.isNativeError(error) || looksLikeError(error)) {
      return {
        errorType: error.name?.replace(/\x7F/g, '%7F'),
        errorMessage: error.message?.replace(/\x7F/g, '%7F'),
        trace: error.stack.replace(/\x7F/g, '%7F').split('\n'),
      };
    }
    return { errorType: typeof error, errorMessage: error.toString(), trace: [] };
  } catch (_) {
    return {
      errorType: 'handled',
      errorMessage: 'callback called with Error argument, but there was a problem while retrieving one or more of ' +
        'its message, name, and stack',
    };
  }
}

function withEnumerableProperties(_key, value) {  // an Error logged as {errorType, errorMessage, ..., stack}
  if (!(value instanceof Error)) return value;
  const out = Object.assign({ errorType: value.name, errorMessage: value.message, code: value.code }, value);
  if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
  return out;
}

/** Log an error as Node's runtime does: `ERROR\t<what> \t{"errorType":...,"stack":[...]}` via console.error. */
function logError(what, err) {
  const error = err instanceof Error ? err : new Error(err);
  if (json) return console.error(error);  // the error alone, as a JSON record
  let text;
  try {
    text = '\t' + JSON.stringify(error, withEnumerableProperties);
  } catch (_) {
    text = '\t' + JSON.stringify(toRapidResponse(error));
  }
  console.error(what, text);
}

function serialize(result) {
  let text;
  try {
    text = JSON.stringify(result === undefined ? null : result);
  } catch (_) {
    throw new Error('Unable to stringify response body');
  }
  // a function or a symbol stringifies to undefined; Node's runtime client then refuses its arguments
  if (typeof text !== 'string') throw new TypeError('Wrong arguments');
  return text;
}

// ---------------------------------------------------------------------------------------- HTTP client
function platformGone() {
  (process.reallyExit || process.exit)(0);  // no 'exit' listeners of user code: as if the platform killed us
}

/** A minimal HTTP/1.1 client on one persistent connection. Requests may be pipelined: responses come back in
 * order, each with a Content-Length (the Runtime API's always have one). */
class RuntimeAPI {
  constructor(address) {
    const colon = address.lastIndexOf(':');
    this.host = address.slice(0, colon).replace(/^\[|\]$/g, '');
    this.port = Number(address.slice(colon + 1));
    this.hostHeader = `Host: ${address}\r\n`;
    this.socket = null;
    this.pending = [];  // one resolver per request sent, oldest first
  }

  connect() {
    const socket = net.connect(this.port, this.host);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => this.onData(chunk));
    socket.on('error', platformGone);
    socket.on('close', () => socket === this.socket && platformGone());
    this.socket = socket;
    this.chunks = [];
    this.length = 0;
    this.head = null;
  }

  /** Send one request; resolves to {status, headers (lower-case names), body: Buffer}. A null body: the
   * caller streams it (chunked, through `write`). */
  request(method, urlPath, body = '', headers = '') {
    if (this.socket === null) this.connect();
    this.socket.ref();  // a request in flight keeps the process alive
    const length = body === null ? 'Transfer-Encoding: chunked' : `Content-Length: ${Buffer.byteLength(body)}`;
    const head = `${method} ${RUNTIME_PATH}${urlPath} HTTP/1.1\r\n${this.hostHeader}${length}\r\n${headers}\r\n`;
    body = body === null ? '' : body;
    this.socket.write(body.length < 65536 ? head + body : head);  // one segment for a small body
    if (body.length >= 65536) this.socket.write(body);
    return new Promise((resolve) => this.pending.push(resolve));
  }

  write(data) {
    this.socket.write(data);
  }

  onData(chunk) {
    this.chunks.push(chunk);
    this.length += chunk.length;
    while (this.parse());
  }

  /** Take one whole response off the buffer and hand it to its request; false when there is none yet. */
  parse() {
    if (this.length === 0) return false;
    let data = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.length);
    this.chunks = [data];
    if (this.head === null) {
      const end = data.indexOf('\r\n\r\n');
      if (end < 0) return false;
      const lines = data.toString('utf8', 0, end).split('\r\n');
      const headers = {};
      for (let i = 1; i < lines.length; i++) {
        const colon = lines[i].indexOf(':');
        headers[lines[i].slice(0, colon).trim().toLowerCase()] = lines[i].slice(colon + 1).trim();
      }
      this.head = { status: Number(lines[0].split(' ')[1]), headers, need: Number(headers['content-length'] || 0) };
      data = data.subarray(end + 4);
      this.chunks = [data];
      this.length = data.length;
    }
    if (this.length < this.head.need) return false;
    const { status, headers, need } = this.head;
    const rest = data.subarray(need);
    this.chunks = rest.length ? [rest] : [];
    this.length = rest.length;
    this.head = null;
    const resolve = this.pending.shift();
    if ((headers.connection || '').toLowerCase() === 'close') {
      const old = this.socket;
      this.socket = null;
      old.destroy();
    } else if (this.pending.length === 0) {
      this.socket.unref();  // idle: the handler's own work decides when the event loop is empty
    }
    resolve({ status, headers, body: data.subarray(0, need) });
    return this.socket !== null;
  }
}

// ------------------------------------------------------------------------------------------------- init
function hasTypeModule(folder) {  // the nearest package.json above a .js file says "type": "module"
  if (folder.endsWith('/node_modules')) return false;
  const file = path.join(folder, '/package.json');
  if (fs.existsSync(file)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(file));
      if (pkg) return pkg.type === 'module';
    } catch (e) {
      console.warn(`${file} cannot be read, it will be ignored for ES module detection purposes.`, e);
      return false;
    }
  }
  return folder === '/' ? false : hasTypeModule(path.resolve(folder, '..'));
}

function requireIfExists(file) {
  return fs.existsSync(file) ? require(file) : undefined;
}

async function importIfExists(file) {
  return fs.existsSync(file) ? import(require('url').pathToFileURL(file).href) : undefined;
}

async function loadModule(appRoot, moduleRoot, name) {
  const base = path.resolve(appRoot, moduleRoot, name);
  const bare = requireIfExists(base);
  if (bare) return bare;
  const esm = fs.existsSync(base + '.js') && hasTypeModule(path.dirname(base + '.js'));
  if (!esm) {
    const cjs = requireIfExists(base + '.js');
    if (cjs) return cjs;
  }
  const loaded = (esm && await importIfExists(base + '.js')) || await importIfExists(base + '.mjs') ||
    requireIfExists(base + '.cjs');
  if (loaded) return loaded;
  return require(require.resolve(name, { paths: [appRoot, moduleRoot] }));  // node_modules, NODE_PATH
}

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const HANDLER_HIGHWATERMARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');

class HttpResponseStream {  // a function URL's status and headers, ahead of a streamed body
  static from(underlyingStream, prelude) {
    underlyingStream.setContentType('application/vnd.awslambda.http-integration-response');
    const metadata = JSON.stringify(prelude);
    underlyingStream._onBeforeFirstWrite = (write) => {
      write(metadata);
      write(new Uint8Array(8));
    };
    return underlyingStream;
  }
}

function installGlobal() {  // `awslambda`, as Node's runtime defines it for handlers that stream their response
  const off = process.env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA;
  if (off === '1' || off === 'true') return;
  globalThis.awslambda = {
    streamifyResponse: (handler, options) => {
      handler[HANDLER_STREAMING] = 'response';
      if (typeof options?.highWaterMark === 'number') handler[HANDLER_HIGHWATERMARK] = parseInt(options.highWaterMark);
      return handler;
    },
    HttpResponseStream,
  };
}

/** The handler function for `_HANDLER`, or a Runtime.* error as Node's runtime throws it. */
async function loadHandler(appRoot, fullHandler) {
  if (fullHandler.includes('..')) {
    throw new MalformedHandlerName(`'${fullHandler}' is not a valid handler name. Use absolute paths when ` +
      'specifying root directories in handler names.');
  }
  const moduleAndHandler = path.basename(fullHandler);
  const moduleRoot = fullHandler.substring(0, fullHandler.indexOf(moduleAndHandler));
  const match = moduleAndHandler.match(/^([^.]*)\.(.*)$/);
  if (!match) throw new MalformedHandlerName('Bad handler');
  let app;
  installGlobal();
  try {
    app = await loadModule(appRoot, moduleRoot, match[1]);
  } catch (e) {
    if (e instanceof SyntaxError) throw new UserCodeSyntaxError(e);
    if (e.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(e);
    throw e;
  }
  const fn = match[2].split('.').reduce((object, key) => object && object[key], app);
  if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
  if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
  return fn;
}

// ----------------------------------------------------------------------------------------------- invoke
let beforeExit = () => {};  // what an empty event loop means now (Node's runtime: the 'beforeExit' listener)

function parseHeader(value, name) {
  if (value === undefined) return undefined;
  try {
    return JSON.parse(value);
  } catch (err) {
    throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
  }
}

class Runtime {
  constructor(api, handler, errorCallbacks) {
    this.api = api;
    this.handler = handler;
    this.errorCallbacks = errorCallbacks;
    this.next = () => this.api.request('GET', '/invocation/next').then((res) => this.invoke(res));
    this.scheduleNext = () => setImmediate(this.next);
  }

  postResponse(id, result, then) {
    const body = serialize(result);  // throws synchronously, as Node's runtime does
    this.post(`/invocation/${encodeURIComponent(id)}/response`, body, then);
  }

  postError(id, err, then) {  // no error-type header: Node's runtime sends none on /invocation/{id}/error
    this.post(`/invocation/${encodeURIComponent(id)}/error`, serialize(toRapidResponse(err)), then);
  }

  post(urlPath, body, then) {
    const answered = this.api.request('POST', urlPath, body, 'Content-Type: application/json\r\n');
    // The next /next goes out behind the post without waiting for its 202 (the platform answers in order), but
    // only once this turn of the event loop is over, as Node's runtime schedules it.
    if (then === this.scheduleNext) this.scheduleNext();
    else answered.then(then);
  }

  invoke({ status, headers, body }) {
    if (status !== 200) platformGone();  // 403/500: "Non-recoverable state. Runtime should exit promptly."
    const id = headers['lambda-runtime-aws-request-id'];
    global[REQUEST_ID] = id;
    global[TENANT_ID] = headers['lambda-runtime-aws-tenant-id'];
    this.errorCallbacks.uncaughtException = (err) => this.postError(id, err, () => process.exit(129));
    this.errorCallbacks.unhandledRejection = (err) => this.postError(id, err, () => process.exit(128));
    if (this.streaming) return this.streaming.invoke(this, id, headers, body);
    const [callback, context, markCompleted] = this.callbacks(id);
    beforeExit = () => {  // neither a callback nor a promise: null once the event loop is empty
      markCompleted();
      this.postResponse(id, null, this.scheduleNext);
    };
    try {
      const event = JSON.parse(body.toString());
      const result = this.handler(event, this.attachContext(context, headers), callback);
      if (result && typeof result.then === 'function') {
        result.then(context.succeed, context.fail).catch(context.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  attachContext(context, headers) {
    const trace = headers['lambda-runtime-trace-id'];
    if (trace) process.env._X_AMZN_TRACE_ID = trace;
    else delete process.env._X_AMZN_TRACE_ID;
    const env = process.env;
    const deadline = Number(headers['lambda-runtime-deadline-ms']);
    return Object.assign(context, {
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
    }, {
      clientContext: parseHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
      identity: parseHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
      invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
      awsRequestId: headers['lambda-runtime-aws-request-id'],
      tenantId: headers['lambda-runtime-aws-tenant-id'],
      getRemainingTimeInMillis: () => deadline - Date.now(),
    });
  }

  /** [callback, context with succeed/fail/done, markCompleted]: only the first of them counts. */
  callbacks(id) {
    let completed = false;
    let waitForEmptyEventLoop = true;
    const postError = (err, then) => {
      logError('Invoke Error', err);
      this.postError(id, err, then);
    };
    const complete = (result, then) => {
      if (completed) {
        console.error('Invocation has already been reported as done. Cannot call complete more than once per invocation.');
        return;
      }
      completed = true;
      this.postResponse(id, result, then);
    };
    const callback = (err, result) => {
      beforeExit = () => {};
      if (err !== undefined && err !== null) postError(err, this.scheduleNext);
      else if (!waitForEmptyEventLoop) complete(result, this.scheduleNext);
      else beforeExit = () => setImmediate(() => complete(result, this.scheduleNext));
    };
    const done = (err, result) => {
      beforeExit = () => {};
      if (err !== undefined && err !== null) postError(err, this.scheduleNext);
      else complete(result, this.scheduleNext);
    };
    let finished = false;
    const once = (fn) => (...args) => {
      if (!finished) {
        fn(...args);
        finished = true;  // after the call: one that threw (an unserialisable result) may be followed by another
      }
    };
    const context = {
      get callbackWaitsForEmptyEventLoop() { return waitForEmptyEventLoop; },
      set callbackWaitsForEmptyEventLoop(value) { waitForEmptyEventLoop = value; },
      succeed: once((result) => done(null, result)),
      fail: once((err) => (err === undefined || err === null ? done('handled') : done(err, null))),
      done: once(done),
    };
    return [once(callback), context, () => { completed = true; }];
  }
}

// ------------------------------------------------------------------------------------------- trace id
/* `process.env._X_AMZN_TRACE_ID` for each invoke without growing the process on every invoke. Assigning
   process.env calls the C library's setenv, which keeps every value it was ever given (about 450 bytes a
   set, for ever; AWS's client does that). So process.env is a view of the real one in which the trace id
   lives in JavaScript: handlers read, enumerate and copy it as before, and a child started with the
   default environment gets it (Node passes process.env's own keys), as lambdalab's Python runtime does. */
const TRACE = '_X_AMZN_TRACE_ID';
function traceIdInJavaScript() {
  const real = process.env;
  let trace;
  process.env = new Proxy(real, {
    get: (t, k) => (k === TRACE ? trace : Reflect.get(t, k)),
    set: (t, k, v) => (k === TRACE ? ((trace = String(v)), true) : Reflect.set(t, k, v)),
    has: (t, k) => (k === TRACE ? trace !== undefined : Reflect.has(t, k)),
    deleteProperty: (t, k) => (k === TRACE ? ((trace = undefined), true) : Reflect.deleteProperty(t, k)),
    ownKeys: (t) => {
      const keys = Reflect.ownKeys(t).filter((k) => k !== TRACE);
      return trace === undefined ? keys : [...keys, TRACE];
    },
    getOwnPropertyDescriptor: (t, k) => (k !== TRACE ? Reflect.getOwnPropertyDescriptor(t, k)
      : trace === undefined ? undefined : { value: trace, writable: true, enumerable: true, configurable: true }),
  });
}

// ------------------------------------------------------------------------------------------------- main
async function main() {
  traceIdInJavaScript();
  patchConsole();
  const api = new RuntimeAPI(process.env.AWS_LAMBDA_RUNTIME_API);
  api.connect();  // before user code runs, so nothing it does to `net` can touch our connection
  const errorCallbacks = {  // during init: the error ends the init
    uncaughtException: (err) => postInitError(api, err, 129),
    unhandledRejection: (err) => postInitError(api, err, 128),
  };
  process.on('uncaughtException', (err) => {
    logError('Uncaught Exception', err);
    errorCallbacks.uncaughtException(err);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const err = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', err);
    errorCallbacks.unhandledRejection(err);
  });
  process.on('beforeExit', () => beforeExit());
  let handler;
  try {
    handler = await loadHandler(process.env.LAMBDA_TASK_ROOT || process.cwd(), process.env._HANDLER || '');
  } catch (err) {  // Node's runtime lets it escape: its uncaughtException listener reports it
    logError('Uncaught Exception', err);
    errorCallbacks.uncaughtException(err);
    return;
  }
  const runtime = new Runtime(api, handler, errorCallbacks);
  if (handler[HANDLER_STREAMING] === 'response') {  // loaded only for such a handler: not on the start path
    const highWaterMark = parseInt(handler[HANDLER_HIGHWATERMARK]);
    runtime.streaming = require('./node_streaming.cjs')({
      logError, toRapidResponse, runtimeError, setBeforeExit: (fn) => { beforeExit = fn; },
      highWaterMark: Number.isNaN(highWaterMark) ? undefined : highWaterMark,
    });
  }
  runtime.scheduleNext();
}

function postInitError(api, err, code) {
  const body = toRapidResponse(err);
  api.request('POST', '/init/error', JSON.stringify(body),
    `Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: ${String(body.errorType).replace(/[\r\n]/g, '')}\r\n`)
    .then(() => process.exit(code));
}

main();
