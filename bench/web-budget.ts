// The dashboard's size budget (DASHBOARD.md §7): first load of any route ≤ 160 KB gzip (HTML + JS + CSS it
// loads before the first paint), every chunk together ≤ 300 KB gzip. Reads a `vite build` output (dist/web).
//   npx ts-node --transpile-only bench/web-budget.ts [dist/web]     prints the table, exit 1 over budget
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';

export const FIRST_LOAD_BUDGET = 160 * 1024;
export const ALL_CHUNKS_BUDGET = 300 * 1024;

export interface WebSize {
  /** Files loaded by the shell (index.html, its scripts, module preloads and style sheets) → gzip bytes. */
  firstLoad: Record<string, number>;
  firstLoadTotal: number;
  /** Every file of the build (lazy chunks included) → gzip bytes. */
  all: Record<string, number>;
  allTotal: number;
}

const gz = (path: string) => gzipSync(readFileSync(path), { level: 9 }).length;

/**
 * Measures the build in `dir`: gzip level 9 of each file, as a server compressing on the fly would send it. The
 * first load is index.html and every `src`/`href` it references (an SPA loads the same shell for every route, and
 * the routes' code is in the entry chunk; only lazy chunks such as the trend chart load later).
 */
export function measureWebBuild(dir: string): WebSize {
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const firstLoad: Record<string, number> = { 'index.html': gz(join(dir, 'index.html')) };
  for (const match of html.matchAll(/(?:src|href)="\/(assets\/[^"]+)"/g))
    firstLoad[match[1]] = gz(join(dir, match[1]));
  const all: Record<string, number> = { 'index.html': firstLoad['index.html'] };
  for (const name of readdirSync(join(dir, 'assets'))) all[`assets/${name}`] = gz(join(dir, 'assets', name));
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  return { firstLoad, firstLoadTotal: sum(firstLoad), all, allTotal: sum(all) };
}

/** The figures as a markdown table. */
export function describeWebSize(size: WebSize): string {
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
  const rows = Object.entries(size.all).map(
    ([name, bytes]) => `| ${name} | ${kb(bytes)} | ${name in size.firstLoad ? 'yes' : 'lazy'} |`,
  );
  return [
    '| file | gzip | first load |',
    '| --- | --- | --- |',
    ...rows,
    `| **first load** | **${kb(size.firstLoadTotal)}** (budget ${kb(FIRST_LOAD_BUDGET)}) | |`,
    `| **all chunks** | **${kb(size.allTotal)}** (budget ${kb(ALL_CHUNKS_BUDGET)}) | |`,
  ].join('\n');
}

if (require.main === module) {
  const dir = resolve(process.argv[2] ?? 'dist/web');
  const size = measureWebBuild(dir);
  console.log(describeWebSize(size));
  if (size.firstLoadTotal > FIRST_LOAD_BUDGET || size.allTotal > ALL_CHUNKS_BUDGET) {
    console.error('over budget');
    process.exit(1);
  }
}
