// The live log's lines, outside React state: appended in bulk once per animation frame, capped (DASHBOARD.md §4).

/** At most this many lines are kept; older ones are dropped and counted. */
export const LOG_CAP = 50_000;

/**
 * An append-only list of log lines with a cap. `version` changes on every change so a component can re-render
 * by it; `dropped` counts lines removed from the front. Dropping happens in chunks (a tenth of the cap) so
 * appends stay O(1) amortised.
 */
export class LogStore {
  private lines: string[] = [];
  dropped = 0;
  version = 0;

  constructor(private readonly cap = LOG_CAP) {}

  get size(): number {
    return this.lines.length;
  }

  /** The line at `index` (0 = the oldest kept). */
  at(index: number): string {
    return this.lines[index] ?? '';
  }

  append(lines: readonly string[]): void {
    if (lines.length === 0) return;
    for (const line of lines) this.lines.push(line);
    if (this.lines.length > this.cap) {
      const excess = this.lines.length - this.cap;
      const cut = Math.min(this.lines.length, excess + Math.floor(this.cap / 10));
      this.lines.splice(0, cut);
      this.dropped += cut;
    }
    this.version++;
  }

  clear(): void {
    this.lines = [];
    this.dropped = 0;
    this.version++;
  }

  /** Indexes of the lines containing `needle` (case-insensitive); every index when it is empty. */
  filter(needle: string): number[] | null {
    const n = needle.trim().toLowerCase();
    if (!n) return null;
    const out: number[] = [];
    const lines = this.lines;
    for (let i = 0; i < lines.length; i++) if (lines[i].toLowerCase().includes(n)) out.push(i);
    return out;
  }
}
