'use strict';
/*
 * Stratus Node.js bootstrap (nodejs20.x, nodejs22.x): PID 1 of an execution
 * environment. Node's standard library only.
 *
 * The same protocol as the Python bootstrap (runtimes/shared/python/
 * bootstrap.py, invocations/protocol.py): newline-delimited JSON frames over
 * a Unix socket. It starts generic, knowing no function; the worker places
 * the code in /var/task and sends
 *   worker -> {"type": "init", "env": {...}, "systemLogLevel"?: "INFO"}
 * with the function's whole configuration as the process environment
 * (_HANDLER, AWS_LAMBDA_*, NODE_PATH, the function's variables,
 * AWS_LAMBDA_LOG_FORMAT / AWS_LAMBDA_LOG_LEVEL for LoggingConfig). Init:
 * set process.env, chdir to /var/task, load the handler's module (an init
 * error is remembered and returned for every invoke, as in Lambda), answer
 *   bootstrap -> {"type": "ready", "initError": null|{...}, "initMs": n}
 * then serve, one invocation at a time:
 *   worker -> {"type": "invoke", requestId, event, deadlineMs, ...}
 *   bootstrap -> {"type": "log", "line"}* then {"type": "result"|"error"}
 *
 * Handlers as Lambda's Node runtime takes them: `file.export` (file.js,
 * file.mjs or file.cjs; .js is an ES module when the nearest package.json
 * says "type": "module"), async (a promise) or with a callback
 * (event, context, callback). Errors have Lambda's shape {errorType,
 * errorMessage, trace}. console.* lines are Lambda's
 * `<ISO time>\t<request id>\t<LEVEL>\t<message>`, or with LogFormat JSON
 * {"timestamp","level","requestId","message"} filtered by
 * AWS_LAMBDA_LOG_LEVEL (ApplicationLogLevel).
 *
 * Output written with process.stdout/stderr (console.*) is captured; bytes
 * child processes write to fd 1/2 go to the container's log (docker logs).
 * Overrides for running outside a container (tests), read at start:
 * STRATUS_SOCKET_PATH, LAMBDA_TASK_ROOT.
 */

const fs = require('fs');
const net = require('net');
const path = require('path');
const util = require('util');
const Module = require('module');
const { pathToFileURL } = require('url');
const { performance } = require('perf_hooks');

const SOCKET_PATH = process.env.STRATUS_SOCKET_PATH || '/var/runtime/sock/bootstrap.sock';
delete process.env.STRATUS_SOCKET_PATH;
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT || '/var/task';
const MAX_FRAME_BYTES = 8 * 1024 * 1024;
const MAX_RESPONSE_BYTES = 6291556; // Lambda's synchronous response limit
const MAX_LOG_LINE = 256 * 1024; // longer lines are split: keeps log frames small
const AWS_PORT = 4566;
const AWS_SOCKET_PATH = path.join(path.dirname(SOCKET_PATH), 'aws.sock');
const OWN_FRAME = __filename;
const NODE_MAJOR = process.versions.node.split('.')[0];

// Lambda's levels, most detailed first (ApplicationLogLevel / SystemLogLevel).
const LEVELS = { TRACE: 0, DEBUG: 1, INFO: 2, WARN: 3, ERROR: 4, FATAL: 5 };

const realStdoutWrite = process.stdout.write.bind(process.stdout);
const realStderrWrite = process.stderr.write.bind(process.stderr);

function diag(msg) {
  // The bootstrap's own messages and output outside an invocation: the
  // container's stdout (docker logs), written synchronously.
  try {
    fs.writeSync(1, String(msg) + '\n');
  } catch (e) {
    /* nowhere left to say it */
  }
}

function encode(frame) {
  return JSON.stringify(frame) + '\n';
}

// --- logging -------------------------------------------------------------------

let sink = null; // (line) => void while an invocation runs
let currentRequestId = undefined;
let logFormat = 'Text';
let appLevel = LEVELS.TRACE; // JSON only: Lambda filters only structured logs

function emitLines(text) {
  const lines = String(text).split('\n');
  for (let line of lines) {
    while (line.length > MAX_LOG_LINE) {
      (sink || diag)(line.slice(0, MAX_LOG_LINE));
      line = line.slice(MAX_LOG_LINE);
    }
    (sink || diag)(line);
  }
}

function errorMessageObject(err) {
  return { errorType: err.name || 'Error', errorMessage: err.message, stackTrace: String(err.stack || '').split('\n') };
}

function logAt(level, args) {
  if (logFormat === 'JSON') {
    if (LEVELS[level] < appLevel) return;
    let message;
    if (args.length === 1 && args[0] instanceof Error) {
      message = errorMessageObject(args[0]);
    } else {
      message = util.format(...args);
    }
    const entry = {
      timestamp: new Date().toISOString(),
      level,
      requestId: currentRequestId,
      message,
    };
    emitLines(JSON.stringify(entry));
    return;
  }
  emitLines(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}`);
}

function installConsole() {
  console.trace = (...args) => logAt('TRACE', args);
  console.debug = (...args) => logAt('DEBUG', args);
  console.log = (...args) => logAt('INFO', args);
  console.info = (...args) => logAt('INFO', args);
  console.warn = (...args) => logAt('WARN', args);
  console.error = (...args) => logAt('ERROR', args);
  console.fatal = (...args) => logAt('FATAL', args);
  // Direct writes (process.stdout.write) while an invocation runs are its
  // output too, line by line; between invocations they go to docker logs.
  for (const [stream, real] of [[process.stdout, realStdoutWrite], [process.stderr, realStderrWrite]]) {
    let partial = '';
    stream.write = (chunk, encoding, cb) => {
      if (typeof encoding === 'function') {
        cb = encoding;
        encoding = undefined;
      }
      if (sink === null) return real(chunk, encoding, cb);
      const text = partial + (Buffer.isBuffer(chunk) ? chunk.toString('utf8') : String(chunk));
      const cut = text.lastIndexOf('\n');
      if (cut >= 0) {
        emitLines(text.slice(0, cut));
        partial = text.slice(cut + 1);
      } else {
        partial = text;
      }
      if (cb) process.nextTick(cb);
      return true;
    };
    stream.flushPartial = () => {
      if (partial) {
        emitLines(partial);
        partial = '';
      }
    };
  }
}

// System lines (START/END) as Lambda writes them: text, or with LogFormat
// JSON its platform events, kept when their level passes SystemLogLevel
// (platform.start INFO, platform.runtimeDone DEBUG: at the default INFO,
// Lambda's JSON log shows start and report).
let systemLevel = LEVELS.INFO;

function systemLine(kind, requestId, extra) {
  if (logFormat !== 'JSON') {
    if (kind === 'start') return `START RequestId: ${requestId} Version: ${extra.version}`;
    return `END RequestId: ${requestId}`;
  }
  const level = kind === 'start' ? LEVELS.INFO : LEVELS.DEBUG;
  if (level < systemLevel) return null;
  const type = kind === 'start' ? 'platform.start' : 'platform.runtimeDone';
  const record = kind === 'start' ? { requestId, version: extra.version } : { requestId, status: extra.status };
  return JSON.stringify({ time: new Date().toISOString(), type, record });
}

// --- errors --------------------------------------------------------------------

function stackLines(stack) {
  // The function's frames: the bootstrap's own are noise to its author.
  return String(stack).split('\n').filter((line) => !line.includes(OWN_FRAME));
}

function lambdaError(err) {
  // Lambda's Node shape: {errorType, errorMessage, trace}. stackTrace is the
  // same list, for the worker's frame (invocations/sandbox.py).
  if (err instanceof Error) {
    const trace = stackLines(err.stack || `${err.name}: ${err.message}`);
    return { errorType: err.name || 'Error', errorMessage: err.message, trace, stackTrace: trace };
  }
  // A thrown or rejected non-Error: Lambda names it by its type.
  let message;
  try {
    message = typeof err === 'string' ? err : JSON.stringify(err);
  } catch (e) {
    message = String(err);
  }
  return { errorType: typeof err === 'string' ? 'string' : typeof err, errorMessage: message, trace: [], stackTrace: [] };
}

function runtimeError(errorType, errorMessage, cause) {
  const trace = cause && cause.stack ? stackLines(cause.stack) : [];
  return { errorType, errorMessage, trace, stackTrace: trace };
}

function logInvokeError(err) {
  const shown = { errorType: err.errorType, errorMessage: err.errorMessage, stack: err.trace };
  if (logFormat === 'JSON') {
    emitLines(JSON.stringify({
      timestamp: new Date().toISOString(), level: 'ERROR', requestId: currentRequestId,
      message: { errorType: err.errorType, errorMessage: err.errorMessage, stackTrace: err.trace },
    }));
  } else {
    emitLines(`${new Date().toISOString()}\t${currentRequestId}\tERROR\tInvoke Error \t${JSON.stringify(shown)}`);
  }
}

// --- init phase ----------------------------------------------------------------

function nearestPackageType(dir) {
  let current = dir;
  for (;;) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(current, 'package.json'), 'utf8'));
      return pkg.type === 'module' ? 'module' : 'commonjs';
    } catch (e) {
      /* none here, or not JSON: look further up */
    }
    const parent = path.dirname(current);
    if (parent === current || !current.startsWith(TASK_ROOT)) return 'commonjs';
    current = parent;
  }
}

// ES modules ignore NODE_PATH; Lambda's Node runtimes (18 and later) still
// find a bare import in a layer's node_modules. When an ES module handler's
// import fails on a package Node's own resolution does not find, a resolve
// hook is registered that looks it up from each NODE_PATH folder named
// node_modules, in order, and the handler is imported again. Only then:
// the hook costs (Module.register runs it in a loader thread: tens of ms
// and MB; registerHooks, node 22, runs it in this thread).
function nodePathParents() {
  // A file in the folder holding each node_modules: resolving from it
  // looks in that node_modules.
  return String(process.env.NODE_PATH || '').split(':')
    .filter((dir) => path.basename(dir) === 'node_modules')
    .map((dir) => pathToFileURL(path.join(path.dirname(dir), '__stratus_resolve__.mjs')).href);
}

const ESM_NODE_PATH_HOOK = `
let parents = [];
export async function initialize(data) { parents = data.parents; }
export async function resolve(specifier, context, nextResolve) {
  try {
    return await nextResolve(specifier, context);
  } catch (err) {
    if (err.code !== 'ERR_MODULE_NOT_FOUND' || /^[./]|^[a-z]+:/.test(specifier)) throw err;
    for (const parentURL of parents) {
      try { return await nextResolve(specifier, { ...context, parentURL }); } catch (e) { /* next */ }
    }
    throw err;
  }
}`;

let esmHookRegistered = false;

function registerEsmNodePath() {
  if (esmHookRegistered) return false;
  esmHookRegistered = true;
  const parents = nodePathParents();
  if (parents.length === 0) return false;
  if (typeof Module.registerHooks === 'function') {
    Module.registerHooks({
      resolve(specifier, context, nextResolve) {
        try {
          return nextResolve(specifier, context);
        } catch (err) {
          if (err.code !== 'ERR_MODULE_NOT_FOUND' || /^[./]|^[a-z]+:/.test(specifier)) throw err;
          for (const parentURL of parents) {
            try {
              return nextResolve(specifier, { ...context, parentURL });
            } catch (e) {
              /* next folder */
            }
          }
          throw err;
        }
      },
    });
    return true;
  }
  if (typeof Module.register !== 'function') return false;
  Module.register('data:text/javascript,' + encodeURIComponent(ESM_NODE_PATH_HOOK), { data: { parents } });
  return true;
}

// A package of a layer may also be imported at call time (`await
// import("pkg")` in the handler) after every import of the handler's own
// resolved: when a NODE_PATH node_modules folder outside the code holds
// packages (a layer's), the hook is registered before the handler loads.
function nodePathHasPackages() {
  return String(process.env.NODE_PATH || '').split(':')
    .filter((dir) => path.basename(dir) === 'node_modules' && !dir.startsWith(TASK_ROOT))
    .some((dir) => {
      try {
        return fs.readdirSync(dir).length > 0;
      } catch (err) {
        return false;
      }
    });
}

async function importEsm(file) {
  const url = pathToFileURL(file).href;
  if (nodePathHasPackages()) registerEsmNodePath();
  try {
    return await import(url);
  } catch (err) {
    const missingPackage = err && err.code === 'ERR_MODULE_NOT_FOUND' && /Cannot find package/.test(err.message);
    // A failed import stays failed under its URL: import it anew.
    if (missingPackage && registerEsmNodePath()) return import(`${url}?node-path`);
    throw err;
  }
}

async function loadModule(root, moduleName) {
  const base = path.resolve(root, moduleName);
  for (const ext of ['.js', '.mjs', '.cjs']) {
    const file = base + ext;
    if (!fs.existsSync(file)) continue;
    if (ext === '.mjs' || (ext === '.js' && nearestPackageType(path.dirname(file)) === 'module')) {
      return importEsm(file);
    }
    return require(file);
  }
  // Lambda falls back to a package of that name (node_modules, NODE_PATH).
  const resolved = require.resolve(moduleName, { paths: [root] });
  return require(resolved);
}

function isSyntaxError(err) {
  return err instanceof SyntaxError || (err && err.name === 'SyntaxError');
}

async function loadHandler(spec) {
  const slash = spec.lastIndexOf('/');
  const dir = slash >= 0 ? spec.slice(0, slash) : '';
  const rest = slash >= 0 ? spec.slice(slash + 1) : spec;
  const match = /^([^.]*)\.(.*)$/.exec(rest);
  if (!match || !match[1] || !match[2]) {
    return [null, runtimeError('Runtime.MalformedHandlerName', `Bad handler ${spec}`)];
  }
  const [, moduleName, handlerPath] = match;
  let mod;
  try {
    mod = await loadModule(path.resolve(TASK_ROOT, dir), moduleName);
  } catch (err) {
    if (isSyntaxError(err)) {
      return [null, runtimeError('Runtime.UserCodeSyntaxError', `${err.name}: ${err.message}`, err)];
    }
    if (err && (err.code === 'MODULE_NOT_FOUND' || err.code === 'ERR_MODULE_NOT_FOUND')) {
      return [null, runtimeError('Runtime.ImportModuleError', `Error: ${err.message}`, err)];
    }
    return [null, lambdaError(err)];
  }
  let target = mod;
  for (const part of handlerPath.split('.')) {
    let next = target == null ? undefined : target[part];
    if (next === undefined && target === mod && mod && mod.default && typeof mod.default === 'object') {
      next = mod.default[part]; // CommonJS through import(): module.exports is `default`
    }
    target = next;
  }
  if (target === undefined) {
    return [null, runtimeError('Runtime.HandlerNotFound', `${moduleName}.${handlerPath} is undefined or not exported`)];
  }
  if (typeof target !== 'function') {
    return [null, runtimeError('Runtime.HandlerNotFound', `${moduleName}.${handlerPath} is not a function`)];
  }
  return [target, null];
}

function startAwsDoor() {
  // Functions have no network: an SDK reads AWS_ENDPOINT_URL and reaches this
  // loopback port, whose connections are relayed byte for byte to the
  // worker's socket in the mounted folder (invocations/aws_forwarder.py).
  return new Promise((resolve) => {
    const server = net.createServer((client) => {
      client.setNoDelay(true);
      const upstream = net.connect(AWS_SOCKET_PATH);
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    server.on('error', (err) => {
      diag(`stratus bootstrap: no AWS door on port ${AWS_PORT}: ${err.message}`);
      resolve(null);
    });
    ownHandles.push(server);
    server.listen(AWS_PORT, '127.0.0.1', () => resolve(`http://127.0.0.1:${AWS_PORT}`));
  });
}

async function applyConfiguration(frame) {
  const env = frame.env || {};
  for (const [k, v] of Object.entries(env)) process.env[String(k)] = String(v);
  if (!process.env.NODE_PATH) {
    process.env.NODE_PATH = [
      `/opt/nodejs/node${NODE_MAJOR}/node_modules`, '/opt/nodejs/node_modules',
      '/var/runtime/node_modules', '/var/runtime', TASK_ROOT,
    ].join(':');
  }
  // Node reads NODE_PATH once at start, when this environment was still
  // generic: read it again now that the function's value is known.
  Module._initPaths();
  logFormat = process.env.AWS_LAMBDA_LOG_FORMAT === 'JSON' ? 'JSON' : 'Text';
  if (logFormat === 'JSON') {
    const level = String(process.env.AWS_LAMBDA_LOG_LEVEL || 'INFO').toUpperCase();
    appLevel = level in LEVELS ? LEVELS[level] : LEVELS.INFO;
  }
  const sys = String(frame.systemLogLevel || 'INFO').toUpperCase();
  systemLevel = sys in LEVELS ? LEVELS[sys] : LEVELS.INFO;
  if (env.AWS_SESSION_TOKEN) {
    const endpoint = await startAwsDoor();
    if (endpoint) process.env.AWS_ENDPOINT_URL = endpoint;
  }
  try {
    process.chdir(TASK_ROOT);
  } catch (err) {
    diag(`stratus bootstrap: cannot chdir to ${TASK_ROOT}: ${err.message}`);
  }
  return process.env._HANDLER || '';
}

// --- memory --------------------------------------------------------------------

let peakFile = null;

function readInt(file) {
  try {
    const value = parseInt(fs.readFileSync(file, 'utf8').trim(), 10);
    return Number.isFinite(value) ? value : null;
  } catch (e) {
    return null;
  }
}

function maxMemoryUsedMb() {
  if (peakFile === null) {
    const v1 = '/sys/fs/cgroup/memory/';
    const limit = readInt(v1 + 'memory.limit_in_bytes');
    if (limit !== null && limit < 2 ** 62) peakFile = v1 + 'memory.max_usage_in_bytes';
    else if (readInt('/sys/fs/cgroup/memory.max') !== null) peakFile = '/sys/fs/cgroup/memory.peak';
    else peakFile = '';
  }
  let peak = peakFile ? readInt(peakFile) : null;
  if (peak === null) peak = process.resourceUsage().maxRSS * 1024;
  return Math.ceil(peak / (1024 * 1024));
}

// --- invocations ---------------------------------------------------------------

function parseClientContext(text) {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

class Context {
  constructor(req) {
    this.callbackWaitsForEmptyEventLoop = true;
    this.functionName = req.functionName || process.env.AWS_LAMBDA_FUNCTION_NAME || '';
    this.functionVersion = req.functionVersion || process.env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST';
    this.invokedFunctionArn = req.invokedFunctionArn || '';
    this.memoryLimitInMB = String(req.memoryLimitInMB || process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || '128');
    this.awsRequestId = req.requestId || '';
    this.logGroupName = req.logGroupName || process.env.AWS_LAMBDA_LOG_GROUP_NAME || '';
    this.logStreamName = req.logStreamName || process.env.AWS_LAMBDA_LOG_STREAM_NAME || '';
    this.identity = undefined;
    // Invoke's ClientContext, decoded JSON text (checked by the web):
    // Lambda's Node context holds the object ({client, custom, env}).
    this.clientContext = parseClientContext(req.clientContext);
    Object.defineProperty(this, '_deadlineMs', { value: Number(req.deadlineMs) || 0, enumerable: false });
  }

  getRemainingTimeInMillis() {
    return Math.max(this._deadlineMs - Date.now(), 0);
  }
}

// The invocation under way: its connection and how to finish it once.
let current = null;

// The bootstrap's own listening sockets and the worker's connection. While
// a handler runs they are unref'd, so that when the function leaves nothing
// pending (a non-async handler that never calls back) the event loop
// drains and 'beforeExit' fires: Lambda then answers null, and so do we.
const ownHandles = [];

function holdLoop(hold) {
  for (const handle of ownHandles) {
    if (hold) handle.ref();
    else handle.unref();
  }
  if (current && current.socket) {
    if (hold) current.socket.ref();
    else current.socket.unref();
  }
}

process.on('beforeExit', () => {
  if (answerWhenDrained) {
    const answer = answerWhenDrained;
    answerWhenDrained = null;
    answer();
  } else if (current && !current.finished) {
    finish(current, null, null);
  }
});

// Set while a callback's answer waits for the event loop to drain.
let answerWhenDrained = null;

function runHandler(handler, event, context) {
  // A promise of the result, by Lambda's rules: a handler that returns a
  // promise (an async function) is answered when it settles. Otherwise the
  // callback (or the legacy context.succeed/fail/done) gives the answer,
  // once the event loop is empty unless context.callbackWaitsForEmptyEventLoop
  // is false; a plain return value is ignored, and a handler that never
  // calls back is answered null when the event loop drains ('beforeExit').
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    const callback = (err, result) => {
      if (settled || answerWhenDrained) return;
      if (context.callbackWaitsForEmptyEventLoop) answerWhenDrained = () => settle(err, result);
      else settle(err, result);
    };
    context.succeed = (result) => callback(null, result);
    context.fail = (err) => callback(err === undefined || err === null ? new Error('handled') : err);
    context.done = (err, result) => callback(err, result);
    let returned;
    try {
      returned = handler(event, context, callback);
    } catch (err) {
      settle(err);
      return;
    }
    if (returned && typeof returned.then === 'function') {
      returned.then(
        (result) => settle(null, result),
        (err) => settle(err === undefined || err === null ? new Error(String(err)) : err),
      );
    }
  });
}

function finish(invocation, err, result) {
  if (invocation.finished) return;
  invocation.finished = true;
  process.stdout.flushPartial();
  process.stderr.flushPartial();
  let payloadText = null;
  if (!err) {
    try {
      payloadText = JSON.stringify(result === undefined ? null : result);
      if (payloadText === undefined) payloadText = 'null'; // a function or symbol
    } catch (e) {
      err = runtimeError('Runtime.MarshalError', `Unable to stringify response body: ${e.message}`, e);
    }
    if (!err && Buffer.byteLength(payloadText) > MAX_RESPONSE_BYTES) {
      err = runtimeError(
        'Function.ResponseSizeTooLarge',
        `Response payload size exceeded maximum allowed payload size (${MAX_RESPONSE_BYTES} bytes).`,
      );
    }
    if (err) logInvokeError(err);
  }
  sink = null;
  const mem = maxMemoryUsedMb();
  const end = systemLine('end', invocation.requestId, { status: err ? 'error' : 'success' });
  let out = end === null ? '' : encode({ type: 'log', line: end });
  if (err) {
    out += encode({ type: 'error', maxMemoryUsedMB: mem, ...err });
  } else {
    out += `{"type":"result","maxMemoryUsedMB":${mem},"payload":${payloadText}}\n`;
  }
  answerWhenDrained = null;
  holdLoop(true);
  invocation.send(out);
  current = null;
  currentRequestId = undefined;
  invocation.done();
}

function handleInvoke(conn, req, handler, initError) {
  return new Promise((done) => {
    const requestId = req.requestId || '';
    const context = new Context(req);
    currentRequestId = requestId;
    const invocation = { requestId, finished: false, send: conn.send, socket: conn.socket, done };
    current = invocation;
    holdLoop(false);
    const start = systemLine('start', requestId, { version: context.functionVersion });
    if (start !== null) conn.send.hold(encode({ type: 'log', line: start }));
    sink = (line) => conn.send(encode({ type: 'log', line }));
    if (initError) {
      logInvokeError(initError);
      finish(invocation, initError);
      return;
    }
    runHandler(handler, req.event, context).then(
      (result) => finish(invocation, null, result),
      (error) => {
        const err = lambdaError(error);
        logInvokeError(err);
        finish(invocation, err);
      },
    );
  });
}

// A crash inside the function's own callbacks ends the environment, as in
// Lambda: the call under way gets the error, then the process exits.
function fatal(errorType, error) {
  const err = errorType ? runtimeError(errorType, String(error && error.message ? `${error.name}: ${error.message}` : error), error) : lambdaError(error);
  if (current && !current.finished) {
    logInvokeError(err);
    const invocation = current;
    finish(invocation, err);
    setTimeout(() => process.exit(129), 20);
  } else {
    diag(`stratus bootstrap: ${err.errorType}: ${err.errorMessage}`);
    process.exit(129);
  }
}

process.on('uncaughtException', (err) => fatal(null, err));
process.on('unhandledRejection', (reason) => fatal('Runtime.UnhandledPromiseRejection', reason));

// --- the socket ----------------------------------------------------------------

function frames(socket, onFrame) {
  // Calls onFrame(frame) for each frame, in order, each after the previous
  // one's promise settled; resolves at EOF. A frame's chunks are kept apart
  // until its newline comes and joined once: joining at every chunk would
  // copy a large event (64 KB chunks) over and over.
  let parts = []; // the next frame's bytes so far
  let size = 0;
  let chain = Promise.resolve();
  socket.on('data', (chunk) => {
    parts.push(chunk);
    size += chunk.length;
    if (chunk.indexOf(10) >= 0) {
      let buf = parts.length > 1 ? Buffer.concat(parts) : chunk;
      let end;
      while ((end = buf.indexOf(10)) >= 0) {
        const line = buf.subarray(0, end);
        buf = buf.subarray(end + 1);
        let frame;
        try {
          frame = JSON.parse(line.toString('utf8'));
        } catch (e) {
          diag(`stratus bootstrap: dropping connection: ${e.message}`);
          socket.destroy();
          return;
        }
        chain = chain.then(() => onFrame(frame)).catch((e) => diag(`stratus bootstrap: ${e && e.stack}`));
      }
      parts = buf.length ? [buf] : [];
      size = buf.length;
    }
    if (size > MAX_FRAME_BYTES) {
      diag('stratus bootstrap: dropping connection: frame too large');
      socket.destroy();
    }
  });
}

function connectionSender(socket) {
  let broken = false;
  // Frames held back to leave with the next write (the START line): a
  // handler that logs nothing costs the worker one wake-up, not two.
  let held = '';
  socket.on('error', () => {
    broken = true; // the worker gave up (timeout): keep running, it will kill us
  });
  const send = (data) => {
    const out = held + data;
    held = '';
    if (!broken && !socket.destroyed) socket.write(out);
  };
  send.hold = (data) => {
    held += data;
  };
  return send;
}

async function main() {
  try {
    fs.unlinkSync(SOCKET_PATH);
  } catch (e) {
    /* not there */
  }
  let state = { phase: 'generic', handler: null, initError: null };
  const server = net.createServer({ allowHalfOpen: false }, (socket) => {
    const send = connectionSender(socket);
    const conn = { send, socket };
    frames(socket, async (frame) => {
      if (state.phase === 'generic') {
        if (frame.type !== 'init') {
          socket.destroy(); // the worker's readiness probe, or a stray connection
          return;
        }
        state.phase = 'initialising';
        const started = performance.now();
        const handlerName = await applyConfiguration(frame);
        // Lambda's console from the start: the module's own init-time
        // lines are formatted too (request id undefined), to docker logs.
        installConsole();
        const [handler, initError] = await loadHandler(handlerName);
        if (initError) diag(`[ERROR] ${initError.errorType}: ${initError.errorMessage}`);
        state = { phase: 'ready', handler, initError };
        send(encode({ type: 'ready', initError, initMs: performance.now() - started }));
        socket.end();
        return;
      }
      if (state.phase !== 'ready') return;
      if (frame.type === 'invoke') {
        await handleInvoke(conn, frame, state.handler, state.initError);
      } else if (frame.type === 'ping') {
        send(encode({ type: 'pong' }));
      }
    });
  });
  ownHandles.push(server);
  server.listen(SOCKET_PATH, () => {
    fs.chmodSync(SOCKET_PATH, 0o666); // the worker may run as another uid
    // Start the ES module loader while still generic (a builtin: no user
    // code): an .mjs handler's import then takes about 1.5 ms, not 4-20.
    import('node:util').catch(() => {});
  });
}

main();
