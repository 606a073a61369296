import { EntityManager, UniqueConstraintViolationException } from '@mikro-orm/core';
import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { Project, User } from '@nso/persistence';
import { CreateProjectDto, ProjectCreatedDto, ProjectDto } from './projects.dto';

@Injectable()
export class ProjectsService {
  constructor(private readonly em: EntityManager) {}

  async create(ownerId: number, input: CreateProjectDto): Promise<ProjectCreatedDto> {
    const name = input.name.trim();
    if (await this.em.count(Project, { owner: ownerId, name })) throw this.duplicate(name);
    const project = this.em.create(Project, {
      owner: this.em.getReference(User, ownerId),
      name,
      description: input.description ?? null,
    });
    try {
      await this.em.flush();
    } catch (error) {
      // Two requests raced past the check above; the unique index decided.
      if (error instanceof UniqueConstraintViolationException) throw this.duplicate(name);
      throw error;
    }
    return { id: project.id, name: project.name };
  }

  async list(ownerId: number): Promise<ProjectDto[]> {
    const projects = await this.em.find(Project, { owner: ownerId }, { orderBy: { id: 'asc' } });
    return projects.map((p) => ({ id: p.id, name: p.name, description: p.description ?? null }));
  }

  /** The project, if the user owns it; another user's project is as unknown as a missing one. */
  async findOwned(ownerId: number, projectId: number): Promise<Project> {
    const project = await this.em.findOne(Project, { id: projectId, owner: ownerId });
    if (!project) throw new NotFoundException({ error: 'Project not found' });
    return project;
  }

  /** Default projects never change once made, so their ids are remembered (this is on every scan start). */
  private readonly defaultIds = new Map<number, number>();

  async defaultIdFor(ownerId: number): Promise<number> {
    const known = this.defaultIds.get(ownerId);
    if (known !== undefined) return known;
    const { id } = await this.defaultFor(ownerId);
    this.defaultIds.set(ownerId, id);
    return id;
  }

  /** The user's default project, created on first use: scans started without a project land there. */
  async defaultFor(ownerId: number): Promise<Project> {
    const existing = await this.em.findOne(Project, { owner: ownerId, isDefault: true });
    if (existing) return existing;
    const em = this.em.fork();
    try {
      const project = em.create(Project, {
        owner: em.getReference(User, ownerId),
        name: 'Default',
        isDefault: true,
      });
      await em.flush();
      return project;
    } catch (error) {
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
      return this.em.findOneOrFail(Project, { owner: ownerId, isDefault: true });
    }
  }

  private duplicate(name: string): ConflictException {
    return new ConflictException({ error: `A project named "${name}" already exists` });
  }
}
