// Child process of the `xml-parse` benchmark (plain CommonJS, run under /usr/bin/time -v for its peak RSS): reads
// one nmap XML file with one of the build's parsers and prints one JSON line: the parse time (ms), the hosts read,
// and the RSS (MiB) before reading the file and at its highest while parsing (sampled every 10 ms).
//   node bench/xml-parse-child.js <dist root> <file.xml> xml2js|string|stream
//   xml2js: parseNmapXmlWithXml2js over the file as one string (the parser before issue 20)
//   string: parseNmapXml over the file as one string (the streaming parser, every host kept: what callers get)
//   stream: parseNmapXmlStream over a file stream, each host counted and dropped (what a streaming import does)
'use strict';
const { createReadStream, readFileSync } = require('node:fs');
const { join } = require('node:path');

async function main() {
  const [distRoot, path, mode] = process.argv.slice(2);
  const nmap = require(join(distRoot, 'apps/worker/libs/nmap/src/index.js'));
  const mib = () => process.memoryUsage().rss / 1024 / 1024;
  const before = mib();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, mib())), 10);
  const t0 = performance.now();
  let hosts = 0;
  if (mode === 'xml2js') hosts = (await nmap.parseNmapXmlWithXml2js(readFileSync(path, 'utf8'))).hosts.length;
  else if (mode === 'string') hosts = (await nmap.parseNmapXml(readFileSync(path, 'utf8'))).hosts.length;
  else if (mode === 'stream') {
    const summary = await nmap.parseNmapXmlStream(createReadStream(path, { highWaterMark: 256 * 1024 }), {
      onHost: () => hosts++,
    });
    if (summary.stats.hostsTotal !== hosts)
      throw new Error(`${hosts} hosts read, ${summary.stats.hostsTotal} reported`);
  } else throw new Error(`unknown mode ${mode}`);
  const parseMs = performance.now() - t0;
  clearInterval(sampler);
  peak = Math.max(peak, mib());
  process.stdout.write(JSON.stringify({ parseMs, hosts, rssBeforeMiB: before, rssPeakMiB: peak }) + '\n');
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
