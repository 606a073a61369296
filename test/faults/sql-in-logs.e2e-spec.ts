import { MikroORM } from '@mikro-orm/core';
import { knexOf } from '@nso/persistence/testing';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TEST_DATABASES, type DatabaseKind } from '../support/database';
import { nmapXml, type XmlHost } from '../support/nmap-xml';
import { AppProcess, startProcess } from '../support/processes';
import { startSystem, TestSystem } from '../support/system';

// Issue 17, point 3: a database error on each knex path (the import in the gateway, a worker storing a batch,
// the delta service storing a report, a worker logging a webhook delivery) is logged by its class and code, never
// with its statement or values. Triggers make exactly those inserts fail; each path's log is captured.
const MARKER = 'leak-marker-7f3a9c';
const FAILING = {
  import: '127.0.0.9',
  delta: '127.0.0.10',
};

/** Triggers refusing the inserts each path makes; SQLite and PostgreSQL spell them differently. */
async function installFailingInserts(system: TestSystem, database: DatabaseKind): Promise<void> {
  const knex = knexOf(system.gateway.app.get(MikroORM).em);
  const rules: Array<[string, string, string]> = [
    ['hosts', 'hosts_fail', `NEW.address = '${FAILING.import}'`],
    ['delta_changes', 'changes_fail', `NEW.address = '${FAILING.delta}'`],
    ['webhook_deliveries', 'deliveries_fail', 'true'],
  ];
  if (database === 'postgresql') {
    await knex.raw(
      `create function nso_test_refuse() returns trigger language plpgsql as $$ begin raise exception 'refused by the test trigger'; end $$`,
    );
    for (const [table, name, when] of rules) {
      await knex.raw(
        `create trigger ${name} before insert on ${table} for each row when (${when}) execute function nso_test_refuse()`,
      );
    }
  } else {
    for (const [table, name, when] of rules) {
      await knex.raw(
        `create trigger ${name} before insert on ${table} when ${when.replace('true', '1')} begin select raise(abort, 'refused by the test trigger'); end`,
      );
    }
  }
}

/** What a log line about a database error must and must not hold. */
function expectWithheld(log: string, line: RegExp): void {
  expect(log).toMatch(line); // on failure, jest shows the whole log
  expect(log.match(line)![0]).toMatch(/statement and values withheld/);
  expect(log).not.toMatch(/insert into/i);
  expect(log).not.toContain(MARKER);
}

describe.each(TEST_DATABASES)('database errors on the knex paths are logged without SQL (%s)', (database) => {
  let system: TestSystem;
  let worker: AppProcess;
  let delta: AppProcess;
  let receiver: Server;
  let receiverUrl: string;
  const api = () => system.gateway.api();
  const host = (address: string): XmlHost => ({
    address,
    state: 'up',
    ports: [{ protocol: 'tcp', port: 22, state: 'open', service: 'ssh', product: MARKER }],
  });
  /** An import whose hosts carry the marker in a host name and a product. */
  const importHosts = (scanId: number, addresses: string[]) =>
    api()
      .post(`/api/scans/${scanId}/results/import`)
      .set('Content-Type', 'application/xml')
      .send(
        nmapXml('nmap -sT -Pn -n -p 22 -oX - 127.0.0.0/24', addresses.map(host)).replace(
          /<hostnames>\n<\/hostnames>/g,
          `<hostnames><hostname name="${MARKER}.test" type="PTR"/></hostnames>`,
        ),
      );
  const newScan = async (name: string) =>
    (
      await api()
        .post('/api/scans')
        .send({ verify_changes: false, name, target: '127.0.0.9', ports: '22', scan_arguments: '-sT -Pn -n' })
        .expect(201)
    ).body.scan.id as number;

  beforeAll(async () => {
    system = await startSystem({
      database,
      workers: 0,
      env: { WEBHOOK_ALLOW: '127.0.0.1/32', WEBHOOK_ATTEMPTS: '1', BATCH_ATTEMPTS: '1' },
    });
    worker = await system.startWorker('w1');
    delta = startProcess('delta', { ...system.env, WORKER_ID: `delta-sql-${database}` });
    await delta.waitForOutput(/delta service ready/);
    receiver = createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
    await installFailingInserts(system, database);
  });
  afterAll(async () => {
    await new Promise((resolve) => receiver?.close(resolve));
    await delta?.stop('SIGKILL');
    await system?.close();
  });

  it('the import (gateway): a 500 without SQL, and a log line without it', async () => {
    const scanId = await newScan('import path');
    const written: string[] = [];
    const spies = [process.stdout, process.stderr].map((stream) =>
      jest.spyOn(stream, 'write').mockImplementation((chunk: unknown) => {
        written.push(String(chunk));
        return true;
      }),
    );
    let response;
    try {
      response = await importHosts(scanId, [FAILING.import]);
    } finally {
      spies.forEach((spy) => spy.mockRestore());
    }
    expect(response.status).toBe(500);
    expect(JSON.stringify(response.body)).not.toMatch(/insert into|leak-marker/i);
    expectWithheld(written.join(''), /\w+ \(code=[^;]*; statement and values withheld\)/);
  });

  it('a worker storing a batch: the log, and the batch_failed error users see', async () => {
    const started = await api()
      .post('/api/scans/start')
      .send({ nmap_flags: ['-sT', '-Pn', '-n', '-p', '22'], targets: [FAILING.import] })
      .expect(200);
    await worker.waitForOutput(/batch \S+ attempt 1 failed: .*/, 30_000);
    expectWithheld(worker.output(), /batch failed: .*/);
    expectWithheld(worker.output(), /batch \S+ attempt 1 failed: .*/);
    const run = await api().get(`/api/scans/${started.body.scan_id}/results`).expect(200);
    expect(JSON.stringify(run.body)).not.toMatch(/insert into/i);
  });

  it('the delta service storing a report', async () => {
    const scanId = await newScan('delta path');
    await importHosts(scanId, ['127.0.0.11']).expect(201);
    await importHosts(scanId, ['127.0.0.11', FAILING.delta]).expect(201);
    await delta.waitForOutput(/delta job \S+ attempt \d+ failed: .*/, 30_000);
    expectWithheld(delta.output(), /delta job \S+ attempt \d+ failed: .*/);
  });

  it('a worker logging a webhook delivery', async () => {
    const scanId = await newScan('webhook path');
    await api()
      .post('/api/webhooks')
      .send({ url: receiverUrl, scan_ids: [scanId] })
      .expect(201);
    await importHosts(scanId, ['127.0.0.12']).expect(201);
    await importHosts(scanId, ['127.0.0.12', '127.0.0.13']).expect(201);
    await worker.waitForOutput(/webhook delivery \S+ attempt \d+ failed: .*/, 30_000);
    expectWithheld(worker.output(), /webhook delivery \S+ attempt \d+ failed: .*/);
  });
});
