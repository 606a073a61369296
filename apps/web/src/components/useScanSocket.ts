// Follows `/ws/scans/:id`: lines go to a LogStore, every other event through the scan-events reducer; both are
// flushed once per animation frame. Reconnects with `?since=<last seq>` (0.5 → 10 s back-off), never after
// 4400/4401/4403/4404.
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { LogStore } from '../lib/log-store';
import { reconnectDelay, scanSocketUrl, shouldReconnect } from '../lib/reconnect';
import {
  applyScanEvents,
  initialScanLiveState,
  ScanEvent,
  ScanLiveState,
  nmapPercentOf,
} from '../lib/scan-events';
import { toLogin } from '../api';
import { LogSource } from './LiveLog';

export type ConnectionState = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface ScanSocket {
  log: LogSource;
  live: ScanLiveState;
  connection: ConnectionState;
  closeReason: string | null;
}

export function useScanSocket(scanId: number, onEvent?: (ev: ScanEvent) => void): ScanSocket {
  const store = useMemo(() => new LogStore(), []);
  const listeners = useRef(new Set<() => void>());
  const [live, setLive] = useState<ScanLiveState>(initialScanLiveState);
  const [connection, setConnection] = useState<ConnectionState>('connecting');
  const [closeReason, setCloseReason] = useState<string | null>(null);
  const onEventRef = useRef(onEvent);
  onEventRef.current = onEvent;

  const subscribe = useCallback((listener: () => void) => {
    listeners.current.add(listener);
    return () => listeners.current.delete(listener);
  }, []);

  useEffect(() => {
    let socket: WebSocket | null = null;
    let attempt = 0;
    let lastSeq: number | null = null;
    let stopped = false;
    let retryTimer: number | undefined;
    let frame = 0;
    let pendingLines: string[] = [];
    let pendingEvents: ScanEvent[] = [];

    const flush = () => {
      frame = 0;
      if (pendingLines.length) {
        store.append(pendingLines);
        pendingLines = [];
        for (const l of listeners.current) l();
      }
      if (pendingEvents.length) {
        const events = pendingEvents;
        pendingEvents = [];
        setLive((s) => applyScanEvents(s, events));
        for (const ev of events) onEventRef.current?.(ev);
      }
    };
    const schedule = () => {
      if (!frame) frame = requestAnimationFrame(flush);
    };

    const connect = () => {
      socket = new WebSocket(scanSocketUrl(window.location.origin, scanId, lastSeq));
      socket.onopen = () => {
        attempt = 0;
        setConnection('live');
        setCloseReason(null);
      };
      socket.onmessage = (message: MessageEvent<string>) => {
        let ev: ScanEvent;
        try {
          ev = JSON.parse(message.data) as ScanEvent;
        } catch {
          return;
        }
        if (typeof ev.seq === 'number') {
          if (lastSeq !== null && ev.seq <= lastSeq) return;
          lastSeq = ev.seq;
        }
        if (ev.event === 'line') {
          const line = typeof ev.line === 'string' ? ev.line : '';
          pendingLines.push(ev.batch_id ? `[${ev.batch_id}] ${line}` : line);
          if (nmapPercentOf(line) !== null) pendingEvents.push(ev);
        } else if (ev.event !== 'connected') {
          pendingEvents.push(ev);
        }
        schedule();
      };
      socket.onclose = (close) => {
        socket = null;
        if (stopped) return;
        if (close.code === 4401) {
          toLogin();
          return;
        }
        if (!shouldReconnect(close.code)) {
          setConnection('closed');
          setCloseReason(close.reason || `closed (${close.code})`);
          return;
        }
        setConnection('reconnecting');
        retryTimer = window.setTimeout(connect, reconnectDelay(attempt++));
      };
    };
    connect();
    return () => {
      stopped = true;
      window.clearTimeout(retryTimer);
      if (frame) cancelAnimationFrame(frame);
      socket?.close();
    };
  }, [scanId, store]);

  const log = useMemo(() => ({ store, subscribe }), [store, subscribe]);
  return { log, live, connection, closeReason };
}
