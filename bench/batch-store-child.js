// Child process of the `batch-store` benchmark (plain CommonJS: it loads a build from any directory, with
// NODE_PATH pointing at this repository's node_modules). On one database it parses nmap XML files the way a worker
// does (NmapXmlCollector fed in 64 KiB pieces, as nmap writes them) and stores each as a new batch of a new run
// through that build's BatchRepository.storeResult, timing both; then prints one JSON line.
//   node bench/batch-store-child.js <dist root> <request JSON>
//   request: { databaseUrl, schema?, files: [{ shape, path, hosts }], runs, warmup }
//   output:  { runs: [{ shape, parseMs, parseCpuMs, storeMs, storeCpuMs, serverCpuMs, hosts, hostRows, portRows,
//              hostsUp, openPorts }],
//              migrateMs }
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const CHUNK = 64 * 1024;

async function main() {
  const [distRoot, requestJson] = process.argv.slice(2);
  const request = JSON.parse(requestJson);
  const lib = (name) => require(join(distRoot, 'apps/worker/libs', name, 'src/index.js'));
  const persistence = lib('persistence');
  const entities = require(join(distRoot, 'apps/worker/libs/persistence/src/entities/index.js'));
  const nmap = lib('nmap');
  const { MikroORM } = require('@mikro-orm/core');

  const optionsOf = () =>
    persistence.createOrmOptions({ databaseUrl: request.databaseUrl, schema: request.schema });
  const options = optionsOf();
  const postgres = !options.dbName;
  const migrateStarted = performance.now();
  const migrator = await MikroORM.init(optionsOf());
  try {
    await persistence.runMigrations(migrator);
  } finally {
    await migrator.close(true);
  }
  const migrateMs = performance.now() - migrateStarted;
  // PostgreSQL: one pooled connection, so that its server process (whose CPU time is read from /proc) is the
  // one storeResult's transaction runs on.
  if (postgres) options.pool = { ...options.pool, min: 1, max: 1 };
  const orm = await MikroORM.init(options);
  const serverCpuMs = async () => {
    if (!postgres) return 0;
    const [row] = await orm.em.getConnection().execute('select pg_backend_pid() as pid');
    return cpuMsOf(Number(row.pid));
  };
  try {
    const em0 = orm.em.fork();
    const user = em0.create(entities.User, { username: `bench-${process.pid}` });
    const project = em0.create(entities.Project, { owner: user, name: `bench-${process.pid}`, isDefault: true });
    await em0.flush();

    const documents = request.files.map((file) => ({ ...file, xml: readFileSync(file.path, 'utf8') }));
    const repository = new persistence.BatchRepository(orm.em.fork());
    const runs = [];
    let counter = 0;
    for (let r = 0; r < request.warmup + request.runs; r++) {
      for (const doc of documents) {
        // A new run with one batch, as a scan's first batch would be: each store inserts every row.
        const em = orm.em.fork();
        const targets = [`batch-store ${doc.shape} ${++counter}`];
        const scan = em.create(entities.Scan, {
          owner: em.getReference(entities.User, user.id),
          project: em.getReference(entities.Project, project.id),
          name: `bench-${process.pid}-${counter}`,
          targets,
          nmapFlags: ['-sT'],
        });
        const result = em.create(entities.ScanResult, {
          scan,
          runner: 'asyncio',
          nmapFlags: ['-sT'],
          targets,
          chunkSize: doc.hosts,
          concurrency: 1,
          targetsTotal: doc.hosts,
          batchesTotal: 1,
        });
        await em.flush();
        const started = await repository.start({
          resultId: result.id,
          seq: 1,
          targets: [],
          workerId: 'bench-worker',
        });
        if (global.gc) global.gc();

        const parseCpu = process.cpuUsage();
        const parseStarted = performance.now();
        const collector = new nmap.NmapXmlCollector();
        for (let i = 0; i < doc.xml.length; i += CHUNK) collector.write(doc.xml.slice(i, i + CHUNK));
        const { hosts } = collector.result();
        const parseMs = performance.now() - parseStarted;
        const parseUsed = process.cpuUsage(parseCpu);
        const serverBefore = await serverCpuMs();

        const cpu = process.cpuUsage();
        const storeStarted = performance.now();
        const stored = await repository.storeResult({
          batchId: started.batchId,
          workerId: 'bench-worker',
          exitCode: 0,
          stderr: null,
          finishedAt: new Date(),
          hosts,
        });
        const storeMs = performance.now() - storeStarted;
        const used = process.cpuUsage(cpu);
        const serverMs = (await serverCpuMs()) - serverBefore;

        // What was stored, read back: every host and port row, the batch's and the run's numbers.
        const check = orm.em.fork();
        const hostRows = await check.count(entities.Host, { result: result.id });
        const portRows = await check.count(entities.Port, { host: { result: result.id } });
        if (!stored.stored || stored.hostsUp !== hosts.length)
          throw new Error(`${doc.shape}: stored ${JSON.stringify(stored)} of ${hosts.length} hosts`);
        if (r >= request.warmup)
          runs.push({
            shape: doc.shape,
            parseMs,
            storeMs,
            parseCpuMs: (parseUsed.user + parseUsed.system) / 1000,
            storeCpuMs: (used.user + used.system) / 1000,
            serverCpuMs: serverMs,
            hosts: hosts.length,
            hostRows,
            portRows,
            hostsUp: stored.hostsUp,
            openPorts: stored.openPorts,
          });
      }
    }
    process.stdout.write(JSON.stringify({ runs, migrateMs }) + '\n');
  } finally {
    await orm.close(true);
  }
}

/** User + system CPU time (ms) of a process on this machine, from /proc/<pid>/stat (clock ticks of 10 ms). */
function cpuMsOf(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the line, 12 and 13 after the command.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
