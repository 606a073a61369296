import { LogStore } from './log-store';

describe('LogStore', () => {
  it('appends in bulk and bumps the version once per append', () => {
    const store = new LogStore(100);
    store.append(['a', 'b']);
    store.append(['c']);
    expect(store.size).toBe(3);
    expect(store.at(2)).toBe('c');
    expect(store.version).toBe(2);
    store.append([]);
    expect(store.version).toBe(2);
  });
  it('drops the oldest lines past the cap, in chunks, and counts them', () => {
    const store = new LogStore(100);
    store.append(Array.from({ length: 105 }, (_, i) => `line ${i}`));
    // 5 over the cap plus a tenth of it.
    expect(store.dropped).toBe(15);
    expect(store.size).toBe(90);
    expect(store.at(0)).toBe('line 15');
    expect(store.size + store.dropped).toBe(105);
  });
  it('filters case-insensitively over every kept line; an empty filter is no filter', () => {
    const store = new LogStore();
    store.append(['22/tcp open ssh', '80/tcp closed http', 'Nmap done: 1 IP address', '3000/tcp OPEN ppp']);
    expect(store.filter('open')).toEqual([0, 3]);
    expect(store.filter('  ')).toBeNull();
    expect(store.filter('nothing')).toEqual([]);
  });
  it('filters 20,000 lines within the budget of 200 ms', () => {
    const store = new LogStore();
    store.append(
      Array.from(
        { length: 20_000 },
        (_, i) => `[${i % 8}] Discovered open port ${i}/tcp on 127.0.0.${i % 250}`,
      ),
    );
    const started = performance.now();
    const matches = store.filter('port 1999');
    const ms = performance.now() - started;
    expect(matches).toHaveLength(11); // 1999 and 19990..19999
    expect(ms).toBeLessThan(200);
  });
});
