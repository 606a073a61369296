// Test data for anything that needs rows in the database: a user with a project, a scan, a run and its batches.
import type { EntityManager } from '@mikro-orm/core';
import { Batch, Project, Scan, ScanResult, User } from '../entities';

let counter = 0;
const unique = (prefix: string): string => `${prefix}-${process.pid}-${++counter}`;

export async function createUser(em: EntityManager, data: Partial<User> = {}): Promise<User> {
  const user = em.create(User, { username: unique('user'), ...data });
  await em.flush();
  return user;
}

export async function createProject(
  em: EntityManager,
  owner: User,
  data: Partial<Project> = {},
): Promise<Project> {
  const project = em.create(Project, { owner, name: unique('project'), ...data });
  await em.flush();
  return project;
}

export interface SeededRun {
  user: User;
  project: Project;
  scan: Scan;
  result: ScanResult;
  batches: Batch[];
}

/** A scan with one queued run split into `batches` batches of `targetsPerBatch` loopback targets each. */
export async function createRun(
  em: EntityManager,
  options: { batches?: number; targetsPerBatch?: number } = {},
): Promise<SeededRun> {
  const batchCount = options.batches ?? 1;
  const perBatch = options.targetsPerBatch ?? 4;
  const user = await createUser(em);
  const project = await createProject(em, user, { isDefault: true });
  const targets = ['127.0.0.0/24'];
  const scan = em.create(Scan, { owner: user, project, name: unique('scan'), targets, nmapFlags: ['-sT'] });
  const result = em.create(ScanResult, {
    scan,
    runner: 'asyncio',
    nmapFlags: ['-sT'],
    targets,
    chunkSize: perBatch,
    concurrency: 2,
    targetsTotal: batchCount * perBatch,
    batchesTotal: batchCount,
  });
  const batches = Array.from({ length: batchCount }, (_, i) =>
    em.create(Batch, {
      result,
      seq: i + 1,
      targets: Array.from({ length: perBatch }, (_, j) => `127.0.${i}.${j + 1}`),
    }),
  );
  await em.flush();
  return { user, project, scan, result, batches };
}
