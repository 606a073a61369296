// The projects table: the groups a user's scans belong to, one of them the user's default. This is its only writer.
import type { EntityManager } from '@mikro-orm/core';
import { Project, User } from './entities';

/** Provided by PersistenceModule, created after the migrations. */
export class ProjectRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * Stores a project of `ownerId` and returns it with its id; `isDefault` marks the owner's default project.
   * Throws a duplicate error (isDuplicateError) when the owner has a project of that name already (unique index).
   */
  async create(
    ownerId: number,
    input: { name: string; description?: string | null; isDefault?: boolean },
  ): Promise<Project> {
    const em = this.em.fork();
    const project = em.create(Project, {
      owner: em.getReference(User, ownerId),
      name: input.name,
      ...(input.description !== undefined ? { description: input.description } : {}),
      ...(input.isDefault ? { isDefault: true } : {}),
    });
    await em.flush();
    return project;
  }

  /** Whether `ownerId` has a project named exactly `name`. */
  async nameExists(ownerId: number, name: string): Promise<boolean> {
    return (await this.em.fork().count(Project, { owner: ownerId, name })) > 0;
  }

  /** The owner's projects, by id. */
  listOwned(ownerId: number): Promise<Project[]> {
    return this.em.fork().find(Project, { owner: ownerId }, { orderBy: { id: 'asc' } });
  }

  /** Project `projectId` if `ownerId` owns it, else null (another user's project as a missing one). */
  findOwned(ownerId: number, projectId: number): Promise<Project | null> {
    return this.em.fork().findOne(Project, { id: projectId, owner: ownerId });
  }

  /** The owner's default project, or null before its first use. */
  findDefault(ownerId: number): Promise<Project | null> {
    return this.em.fork().findOne(Project, { owner: ownerId, isDefault: true });
  }
}
