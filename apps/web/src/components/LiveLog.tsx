// The live nmap output: a virtualised role="log" list with a fixed row height (only visible rows are in the
// DOM), "Follow output" that turns off when the user scrolls up, and "Filter lines" over every kept line.
import { useEffect, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { useVirtualizer } from '@tanstack/react-virtual';
import { LogStore } from '../lib/log-store';

const ROW_HEIGHT = 18;

/** Subscribe to a LogStore's changes (the socket hook notifies once per animation frame). */
export interface LogSource {
  store: LogStore;
  subscribe(listener: () => void): () => void;
}

export function LiveLog({ source, label = 'nmap output' }: { source: LogSource; label?: string }) {
  const version = useSyncExternalStore(source.subscribe, () => source.store.version);
  const store = source.store;
  const [follow, setFollow] = useState(true);
  const [filter, setFilter] = useState('');
  const scrollRef = useRef<HTMLDivElement>(null);
  const programmatic = useRef(false);

  // Filtering over every kept line; recomputed as lines arrive only while a filter is set.
  const matches = useMemo(() => store.filter(filter), [store, filter, filter ? version : 0]);
  const count = matches ? matches.length : store.size;

  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 15,
  });

  useEffect(() => {
    if (!follow || count === 0) return;
    const el = scrollRef.current;
    if (!el) return;
    programmatic.current = true;
    el.scrollTop = el.scrollHeight;
  }, [follow, count, version]);

  const onScroll = () => {
    const el = scrollRef.current;
    if (!el) return;
    if (programmatic.current) {
      programmatic.current = false;
      return;
    }
    const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - ROW_HEIGHT * 2;
    if (!atBottom && follow) setFollow(false);
    if (atBottom && !follow) setFollow(true);
  };

  const total = store.size + store.dropped;
  return (
    <div className="live-log">
      <div className="log-tools">
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
          output
        </label>
        <label>
          Filter lines
          <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} />
        </label>
        <span className="muted">
          {total} lines
          {matches ? `, ${matches.length} matching` : ''}
          {store.dropped > 0 ? ` (${store.dropped} older lines dropped)` : ''}
        </span>
      </div>
      <div
        ref={scrollRef}
        className="log"
        role="log"
        aria-label={label}
        aria-live="off"
        tabIndex={0}
        onScroll={onScroll}
      >
        {count === 0 ? (
          <p className="muted log-empty">{filter ? 'No line matches the filter.' : 'No output yet.'}</p>
        ) : (
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }}>
            {virtualizer.getVirtualItems().map((row) => (
              <div
                key={row.key}
                className="log-line"
                style={{
                  position: 'absolute',
                  top: 0,
                  transform: `translateY(${row.start}px)`,
                  height: ROW_HEIGHT,
                }}
              >
                {store.at(matches ? matches[row.index] : row.index)}
              </div>
            ))}
          </div>
        )}
      </div>
    </div>
  );
}
