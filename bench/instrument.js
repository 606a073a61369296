// Preloaded into gateway and worker processes by `bench/run.ts profile` (NODE_OPTIONS=--require …/instrument.js)
// to time what happens inside them without touching the app code. Records spans (start, end, wall-clock ms):
//   - methods of the services named in CLASSES (wrapped on the prototype when their module is loaded from dist/),
//   - the exported functions named in FUNCTIONS,
//   - every SQL statement (better-sqlite3 statements, pg queries) with the start of its text,
//   - every Redis command (ioredis sendCommand) by name,
//   - every child process (spawn → exit), with the time of its first stdout byte.
// Spans go to $BENCH_TRACE_DIR/<role>-<pid>.jsonl, flushed every second and at exit. Plain CommonJS on purpose:
// it loads before anything else and must not need a TypeScript loader.
'use strict';
const Module = require('node:module');
const { appendFileSync } = require('node:fs');
const { join } = require('node:path');
const childProcess = require('node:child_process');

const DIR = process.env.BENCH_TRACE_DIR;
if (DIR) install();

function install() {
  const main = process.argv[1] || '';
  const role = /gateway/.test(main) ? 'gateway' : /worker/.test(main) ? 'worker' : 'other';
  const file = join(DIR, `${role}-${process.pid}.jsonl`);
  const now = () => performance.timeOrigin + performance.now();
  let buffer = [];
  const record = (name, start, end, detail) => {
    buffer.push(JSON.stringify({ r: role, p: process.pid, n: name, s: start, e: end, d: detail }));
  };
  const flush = () => {
    if (buffer.length === 0) return;
    const lines = buffer.join('\n') + '\n';
    buffer = [];
    try {
      appendFileSync(file, lines);
    } catch {
      // the directory is gone: the benchmark has ended
    }
  };
  setInterval(flush, 1000).unref();
  process.on('exit', flush);

  const CLASSES = new Set([
    'BatchRunService',
    'BatchRepository',
    'RunFinalizer',
    'RunStateStore',
    'BatchQueue',
    'ScanEventPublisher',
    'ScanScope',
    'NmapArgumentPolicy',
    'NmapProcessRunner',
    'ScansService',
    'ProjectsService',
    'ScanEventsGateway',
    'ScanEventHub',
    'ScanEventLog',
  ]);
  const FUNCTIONS = new Set(['parseNmapXml', 'parseTargets']);

  const timed = (name, fn) => {
    const wrapper = function (...args) {
      const start = now();
      let result;
      try {
        result = fn.apply(this, args);
      } catch (error) {
        record(name, start, now(), 'threw');
        throw error;
      }
      if (result && typeof result.then === 'function') {
        return result.then(
          (value) => {
            record(name, start, now());
            return value;
          },
          (error) => {
            record(name, start, now(), 'rejected');
            throw error;
          },
        );
      }
      record(name, start, now());
      return result;
    };
    // Keep decorator metadata (if any) on the replacement.
    if (typeof Reflect.getMetadataKeys === 'function') {
      for (const key of Reflect.getMetadataKeys(fn))
        Reflect.defineMetadata(key, Reflect.getMetadata(key, fn), wrapper);
    }
    return wrapper;
  };

  const patchedClasses = new WeakSet();
  const instrumentExports = (exports) => {
    if (!exports || (typeof exports !== 'object' && typeof exports !== 'function')) return;
    for (const key of Object.keys(exports)) {
      const descriptor = Object.getOwnPropertyDescriptor(exports, key);
      if (!descriptor || !('value' in descriptor) || typeof descriptor.value !== 'function') continue;
      const value = descriptor.value;
      if (CLASSES.has(key) && value.prototype && !patchedClasses.has(value)) {
        patchedClasses.add(value);
        for (const method of Object.getOwnPropertyNames(value.prototype)) {
          if (method === 'constructor') continue;
          const d = Object.getOwnPropertyDescriptor(value.prototype, method);
          if (!d || typeof d.value !== 'function') continue;
          Object.defineProperty(value.prototype, method, { ...d, value: timed(`${key}.${method}`, d.value) });
        }
      } else if (FUNCTIONS.has(key) && descriptor.writable) {
        exports[key] = timed(key, value);
      }
    }
  };

  let sqlitePatched = false;
  let pgPatched = false;
  let redisPatched = false;
  const originalLoad = Module._load;
  Module._load = function (request, parent, isMain) {
    const exports = originalLoad.apply(this, arguments);
    try {
      if (request === 'better-sqlite3' && !sqlitePatched) {
        sqlitePatched = true;
        patchSqlite(exports);
      } else if (request === 'pg' && !pgPatched) {
        pgPatched = true;
        patchPg(exports);
      } else if (request === 'ioredis' && !redisPatched) {
        redisPatched = true;
        patchRedis(exports.default || exports);
      } else if (parent && (request.startsWith('.') || request.startsWith('/'))) {
        const filename = Module._resolveFilename(request, parent, isMain);
        if (!filename.includes('/node_modules/')) instrumentExports(exports);
      }
    } catch {
      // never break the app
    }
    return exports;
  };

  function patchSqlite(Database) {
    const prepare = Database.prototype.prepare;
    let statementPatched = false;
    Database.prototype.prepare = function (sql) {
      const statement = prepare.apply(this, arguments);
      if (!statementPatched) {
        statementPatched = true;
        const proto = Object.getPrototypeOf(statement);
        for (const method of ['run', 'all', 'get']) {
          const original = proto[method];
          proto[method] = function () {
            const start = now();
            try {
              return original.apply(this, arguments);
            } finally {
              record('sql', start, now(), String(this.source).replace(/\s+/g, ' ').slice(0, 90));
            }
          };
        }
      }
      return statement;
    };
  }

  function patchPg(pg) {
    const query = pg.Client.prototype.query;
    pg.Client.prototype.query = function (config, values, callback) {
      const start = now();
      const text = String(typeof config === 'string' ? config : config && config.text)
        .replace(/\s+/g, ' ')
        .slice(0, 90);
      const done = () => record('sql', start, now(), text);
      const args = Array.from(arguments);
      const last = args[args.length - 1];
      if (typeof last === 'function') {
        args[args.length - 1] = function () {
          done();
          return last.apply(this, arguments);
        };
        return query.apply(this, args);
      }
      if (config && typeof config.callback === 'function') {
        const cb = config.callback;
        config.callback = function () {
          done();
          return cb.apply(this, arguments);
        };
        return query.apply(this, args);
      }
      const result = query.apply(this, args);
      if (result && typeof result.then === 'function') result.then(done, done);
      return result;
    };
  }

  function patchRedis(Redis) {
    const sendCommand = Redis.prototype.sendCommand;
    Redis.prototype.sendCommand = function (command) {
      const start = now();
      const result = sendCommand.apply(this, arguments);
      if (command && command.promise) {
        const name = String(command.name);
        const done = () => record(`redis ${name}`, start, now());
        command.promise.then(done, done);
      }
      return result;
    };
  }

  const spawn = childProcess.ChildProcess.prototype.spawn;
  childProcess.ChildProcess.prototype.spawn = function (options) {
    const start = now();
    // nmap starts as `setpriv --pdeathsig TERM -- <nmap> …`, which execs it in place: name it by what runs.
    const args = (options && options.args) || [];
    const wrapped = /(^|\/)setpriv$/.test(String(options && options.file)) && args.indexOf('--') >= 0;
    const file = String((wrapped ? args[args.indexOf('--') + 1] : options && options.file) || '?')
      .split('/')
      .pop();
    const result = spawn.apply(this, arguments);
    let firstOut;
    if (this.stdout) this.stdout.once('data', () => (firstOut = now()));
    this.once('exit', () => {
      const end = now();
      record(
        `process ${file}`,
        start,
        end,
        firstOut === undefined ? undefined : { firstStdout: firstOut - start },
      );
    });
    return result;
  };
}
