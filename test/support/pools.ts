// Worker pools as scanner clients without worker processes: the row a worker's registration writes
// (apps/worker/src/clients/worker-pool.registration.ts), approved, and kept online by a heartbeat.
import { EntityManager } from '@mikro-orm/core';
import { INestApplication } from '@nestjs/common';
import { Client } from '@nso/persistence/testing';

/**
 * Registers worker pool `clientId` over `scanRange` (approved, unless `approved` is false) and refreshes its
 * last_seen every few seconds until stop(), so it stays online however long the test runs.
 */
export async function keepPoolOnline(
  app: INestApplication,
  clientId: string,
  scanRange: string[],
  approved = true,
): Promise<{ stop(): void }> {
  const em = app.get(EntityManager).fork();
  const now = new Date();
  const existing = await em.findOne(Client, { clientId });
  if (!existing) {
    em.create(Client, {
      clientId,
      kind: 'pool',
      scanRange,
      lastSeen: now,
      isApproved: approved,
      approvedAt: approved ? now : null,
      createdAt: now,
    });
    await em.flush();
  }
  const timer = setInterval(() => {
    void app
      .get(EntityManager)
      .fork()
      .nativeUpdate(Client, { clientId, kind: 'pool' }, { lastSeen: new Date() })
      .catch(() => undefined);
  }, 5000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
