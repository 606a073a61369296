// What a user of a fresh deployment does, against a running gateway (scripts/test-deploy.sh runs it against the
// Compose stack and the `podman kube play` pods). Plain Node 20 (fetch), no dependencies; targets are loopback
// only: 127.0.0.1 inside the worker's own network namespace.
//
//   node test/deploy/user-flow.mjs first <base url> <state file>      log in, approve the pool, scan, events,
//                                                                      a definition executed twice, its delta report
//   node test/deploy/user-flow.mjs restarted <base url> <state file>  after a restart of the whole stack: the session
//                                                                      (Redis) and the scans, runs and report
//                                                                      (PostgreSQL) are still there
//   node test/deploy/user-flow.mjs slow <base url> <state file>       starts a scan whose one batch takes ~8 s and
//                                                                      returns once a worker runs it
//   node test/deploy/user-flow.mjs drained <base url> <state file> <stop time> <worker exit time>
//                                                                      the stop came during the batch, the worker
//                                                                      exited after it; the run completed
//   node test/deploy/user-flow.mjs scan <base url> <state file> <w>   a loopback scan run by a worker whose id
//                                                                      starts with <w> (the kube pods)
//   node test/deploy/user-flow.mjs health <base url>                  GET /api/health is 200 with both checks true
//
// ADMIN_PASSWORD is the environment's. Each check prints one `ok - …` line; the first failure prints `not ok - …`
// and exits 1. Every wait has a deadline.
import { readFileSync, writeFileSync } from 'node:fs';

const [phase, base, stateFile] = process.argv.slice(2);
const WAIT_MS = Number(process.env.DEPLOY_WAIT_MS || 120_000);
const TARGET = '127.0.0.1';

function ok(message) {
  console.log(`ok - ${message}`);
}

function fail(message) {
  console.log(`not ok - ${message}`);
  process.exit(1);
}

async function call(method, path, { auth, body, expect = 200 } = {}) {
  const headers = { ...(auth ?? {}) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  if (response.status !== expect)
    fail(`${method} ${path}: expected ${expect}, got ${response.status} ${text}`);
  return { json, response };
}

async function until(what, probe) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  while (Date.now() < deadline) {
    last = await probe().catch((error) => ({ error }));
    if (last && !last.error) return last;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  fail(`${what} within ${WAIT_MS / 1000} s (last: ${JSON.stringify(last?.error?.message ?? last)})`);
}

/**
 * Reads the scan's SSE stream from the start (`since=0`) until the run's terminal event, or until `stopAt` returns
 * true for an event; returns the events in order, each `{ event, data }`.
 */
async function events(auth, scanId, stopAt = () => false) {
  const response = await fetch(`${base}/api/scans/${scanId}/events?since=0`, {
    headers: auth,
    signal: AbortSignal.timeout(WAIT_MS),
  });
  if (response.status !== 200) fail(`GET /api/scans/${scanId}/events: ${response.status}`);
  const seen = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of response.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const name = /^event: (.+)$/m.exec(block)?.[1];
      if (!name) continue;
      const item = { event: name, data: JSON.parse(/^data: (.*)$/m.exec(block)?.[1] ?? '{}') };
      seen.push(item);
      if (
        stopAt(item) ||
        ['scan_complete', 'scan_failed', 'scan_stopped', 'legacy_scan_complete'].includes(name)
      ) {
        await response.body.cancel().catch(() => {});
        return seen;
      }
    }
  }
  return seen;
}

async function health() {
  const { json } = await call('GET', '/api/health');
  if (json.status !== 'healthy' || !json.checks?.database || !json.checks?.redis) {
    fail(`/api/health: ${JSON.stringify(json)}`);
  }
  return json;
}

async function waitForRun(auth, scanId, resultId) {
  return until(`run ${resultId} of scan ${scanId} to complete`, async () => {
    const { json } = await call('GET', `/api/scans/${scanId}/results`, { auth });
    const run = json.results.find((r) => r.result_id === resultId);
    if (run?.status === 'completed') return run;
    if (run && ['failed', 'stopped'].includes(run.status))
      fail(`run ${resultId} ended ${run.status}: ${run.error}`);
    return { error: new Error(`run ${resultId}: ${run?.status}`) };
  });
}

/** POST /api/scans/start of 127.0.0.1, retried until a worker pool is online to take it; returns the scan id. */
async function startScan(auth, nmapFlags) {
  const { json } = await until('POST /api/scans/start to be accepted (the pool online)', async () => {
    const response = await fetch(`${base}/api/scans/start`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ nmap_flags: nmapFlags, targets: [TARGET] }),
      signal: AbortSignal.timeout(30_000),
    });
    const body = await response.json();
    return response.status === 200 || response.status === 201
      ? { json: body }
      : { error: new Error(`${response.status} ${JSON.stringify(body)}`) };
  });
  if (!json.scan_id) fail(`POST /api/scans/start answered without scan_id: ${JSON.stringify(json)}`);
  return json.scan_id;
}

const readState = () => JSON.parse(readFileSync(stateFile, 'utf8'));
const writeState = (changes) => writeFileSync(stateFile, JSON.stringify({ ...readState(), ...changes }));

async function slow() {
  const auth = { cookie: readState().cookie };
  // One batch of eight ports, one probe a second: about 8 s of nmap.
  const scanId = await startScan(auth, ['-sT', '-Pn', '-n', '--scan-delay', '1s', '-p', '1-8']);
  const seen = await events(auth, scanId, (e) => e.event === 'batch_start');
  if (seen.at(-1)?.event !== 'batch_start') fail(`scan ${scanId} ended before a worker took it`);
  writeState({ slowScanId: scanId });
  ok(`a scan with an 8 s batch is running on a worker (scan ${scanId})`);
}

/** `podman inspect`'s time (`2026-12-06 21:18:00.008574471 +0000 UTC`, or ISO) in milliseconds. */
function podmanTime(text) {
  const [date, time] = text.split(' ');
  return Date.parse(time ? `${date}T${time.slice(0, 12)}Z` : text);
}

async function drained() {
  const [stopAt, exitedAt] = process.argv.slice(5).map(podmanTime);
  const { cookie, slowScanId } = readState();
  const auth = { cookie };
  const { json } = await call('GET', `/api/scans/${slowScanId}/results`, { auth });
  const run = json.results[0];
  if (run?.status !== 'completed' || run.batches_done !== 1 || run.batches_failed !== 0) {
    fail(`right after the worker stopped, the run is ${JSON.stringify(run)}`);
  }
  const seen = await events(auth, slowScanId);
  const starts = seen.filter((e) => e.event === 'batch_start');
  if (starts.length !== 1) fail(`the batch started ${starts.length} times`);
  const completed = Date.parse(seen.find((e) => e.event === 'batch_complete')?.data.ts);
  // The stop came while nmap ran, and the worker exited only after the batch was stored.
  if (!(stopAt < completed && completed <= exitedAt + 1000)) {
    fail(`stop at ${stopAt}, batch complete at ${completed}, worker exited at ${exitedAt}`);
  }
  ok(
    `the stop came ${((completed - stopAt) / 1000).toFixed(1)} s before the batch ended; the worker exited after it, and the run completed with the batch run once`,
  );
}

async function scan() {
  const prefix = process.argv[5];
  const auth = { cookie: readState().cookie };
  const scanId = await startScan(auth, ['-sT', '-Pn', '-n', '-p', '3000']);
  const seen = await events(auth, scanId);
  const worker = seen.find((e) => e.event === 'batch_start')?.data.worker ?? '';
  if (seen.at(-1)?.event !== 'scan_complete' || !worker.startsWith(prefix)) {
    fail(`scan ${scanId}: ${seen.map((e) => e.event).join(', ')} (worker ${worker})`);
  }
  ok(`a loopback scan through this gateway completes, run by ${worker}`);
}

async function first() {
  const password = process.env.ADMIN_PASSWORD;
  if (!password) fail('ADMIN_PASSWORD is not set');
  await health();
  ok('GET /api/health: 200, database and redis answer');

  const login = await call('POST', '/auth/login', { body: { username: 'admin', password } });
  const cookie = login.response.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  if (!cookie) fail('POST /auth/login set no session cookie');
  ok('the admin logs in (POST /auth/login: 200, a session cookie)');
  const { json: token } = await call('POST', '/api/tokens', {
    auth: { cookie },
    body: { name: 'deploy-test' },
    expect: 201,
  });
  const auth = { authorization: `Bearer ${token.token}` };
  ok('an API token is made with that session');

  // The pool of this deployment waits for an admin (WORKER_AUTO_APPROVE is false in the shipped files).
  await until('the worker pool "local" to register', async () => {
    const { json } = await call('GET', '/api/clients', { auth });
    const list = Array.isArray(json) ? json : (json.clients ?? []);
    return list.some((c) => c.client_id === 'local') ? list : { error: new Error('no client "local" yet') };
  });
  await call('POST', '/api/clients/local/approve', { auth });
  ok('the admin approves the worker pool "local"');

  const scanId = await startScan(auth, ['-sT', '-Pn', '-n', '-p', '3000,5432,6379']);
  ok(`a loopback scan of ${TARGET} starts (scan ${scanId})`);
  const names = (await events(auth, scanId)).map((e) => e.event);
  const order = ['batch_start', 'batch_complete', 'scan_complete'].map((n) => names.indexOf(n));
  if (
    order.some((i) => i < 0) ||
    order.some((i, k) => k > 0 && i < order[k - 1]) ||
    !names.includes('line')
  ) {
    fail(`events of scan ${scanId} out of order or missing: ${names.join(', ')}`);
  }
  ok(`its events arrive over SSE in order: ${[...new Set(names)].join(', ')}`);

  const { json: created } = await call('POST', '/api/scans', {
    auth,
    expect: 201,
    body: { name: 'deploy test', target: TARGET, ports: '3000,5432', scan_arguments: '-sT -Pn -n' },
  });
  const definition = created.scan.id;
  const runs = [];
  for (let i = 0; i < 2; i += 1) {
    const { json } = await call('GET', `/api/scans/${definition}/execute`, { auth });
    await waitForRun(auth, definition, json.result_id);
    runs.push(json.result_id);
  }
  ok(`scan definition ${definition} executed twice, both runs completed (results ${runs.join(', ')})`);
  const report = await until('the delta report of the second run', async () => {
    const { json } = await call('GET', `/api/scan/${definition}/reports`, { auth });
    const found = json.reports.find((r) => r.current_result_id === runs[1]);
    return found ?? { error: new Error(`reports: ${JSON.stringify(json.reports)}`) };
  });
  if (report.baseline_result_id !== runs[0])
    fail(`report ${report.id} has baseline ${report.baseline_result_id}`);
  ok(`delta report ${report.id} compares run ${runs[1]} with its baseline ${runs[0]}`);

  writeFileSync(stateFile, JSON.stringify({ cookie, scanId, definition, runs, reportId: report.id }));
}

async function restarted() {
  const state = JSON.parse(readFileSync(stateFile, 'utf8'));
  await until('GET /api/health to be healthy', health);
  // The session lives only in Redis: it is still valid only if Redis kept its data (AOF on its volume).
  const { json: tokens } = await call('GET', '/api/tokens', { auth: { cookie: state.cookie } });
  if (!tokens.some((t) => t.name === 'deploy-test')) fail(`tokens: ${JSON.stringify(tokens)}`);
  ok('the session made before the restart is still valid (Redis kept its data on its volume)');
  // Scans, runs and reports live in PostgreSQL.
  const auth = { cookie: state.cookie };
  const { json: results } = await call('GET', `/api/scans/${state.definition}/results`, { auth });
  const ids = results.results.map((r) => r.result_id);
  if (!state.runs.every((id) => ids.includes(id))) fail(`runs after the restart: ${ids.join(', ')}`);
  await call('GET', `/api/report/${state.reportId}`, { auth });
  ok(
    `scan ${state.definition}, its runs ${state.runs.join(', ')} and report ${state.reportId} are still there (PostgreSQL kept its data)`,
  );
}

const phases = {
  first,
  slow,
  drained,
  scan,
  restarted,
  health: () => health().then(() => ok('GET /api/health: 200')),
};
if (!phases[phase] || !base) fail('usage: user-flow.mjs first|restarted|health <base url> [state file]');
phases[phase]().catch((error) => fail(error.stack ?? String(error)));
