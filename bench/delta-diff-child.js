// Child process of the `delta-diff` benchmark (plain CommonJS, run under /usr/bin/time -v for its peak RSS):
// reads two nmap XML files, parses them with the product's parser and diffs them with diffResults, from the
// compiled build. Prints one JSON line: parse and diff times (ms) and the counts of the diff.
//   node bench/delta-diff-child.js <dist root> <baseline.xml> <current.xml> <nmap flags as JSON>
'use strict';
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

async function main() {
  const [distRoot, baselinePath, currentPath, flagsJson] = process.argv.slice(2);
  const { parseNmapXml } = require(join(distRoot, 'apps/worker/libs/nmap/src/index.js'));
  const { diffResults, summarizeDelta, scanOptionsOf } = require(
    join(distRoot, 'apps/delta/libs/delta/src/index.js'),
  );
  const options = scanOptionsOf(JSON.parse(flagsJson));
  const t0 = performance.now();
  const parsed = [];
  for (const path of [baselinePath, currentPath]) parsed.push(await parseNmapXml(readFileSync(path, 'utf8')));
  const t1 = performance.now();
  const runs = parsed.map((result) => ({
    options,
    coverage: { scanned: new Set(result.hosts.map((h) => h.address)), failed: new Set() },
    hosts: result.hosts.map((h) => ({
      address: h.address,
      state: h.state,
      hostnames: h.hostnames.map((n) => n.name),
      ports: h.ports.map((p) => ({
        protocol: p.protocol,
        port: p.port,
        state: p.state,
        service: p.service && p.service.name,
        product: p.service && p.service.product,
        version: p.service && p.service.version,
        extrainfo: p.service && p.service.extrainfo,
      })),
    })),
  }));
  const t2 = performance.now();
  // The parse leaves a large heap behind; the delta service reads runs from the database instead. Collect it
  // first so that the diff's time is the diff's (run with --expose-gc).
  if (global.gc) global.gc();
  // The first diff is what one delta job pays (cold code); two more show it warm.
  const diffs = [];
  let delta;
  for (let i = 0; i < 3; i++) {
    const start = performance.now();
    delta = diffResults(runs[0], runs[1]);
    diffs.push(performance.now() - start);
  }
  process.stdout.write(
    JSON.stringify({
      parseMs: t1 - t0,
      loadMs: t2 - t1,
      diffMs: diffs[0],
      warmDiffMs: Math.min(...diffs),
      summary: summarizeDelta(delta),
    }) + '\n',
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
