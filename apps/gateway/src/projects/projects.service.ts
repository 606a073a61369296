import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { isDuplicateError, ProjectRepository, type Project } from '@nso/persistence';
import { CreateProjectDto, ProjectCreatedDto, ProjectDto } from './projects.dto';

/** Projects: the groups a user's scans belong to; scans started without one land in the user's default project. */
@Injectable()
export class ProjectsService {
  constructor(private readonly projects: ProjectRepository) {}

  /** A new project of the user, its name trimmed. Errors: 409 when the user has a project of that name. */
  async create(ownerId: number, input: CreateProjectDto): Promise<ProjectCreatedDto> {
    const name = input.name.trim();
    if (await this.projects.nameExists(ownerId, name)) throw this.duplicate(name);
    try {
      const project = await this.projects.create(ownerId, { name, description: input.description ?? null });
      return { id: project.id, name: project.name };
    } catch (error) {
      // Two requests raced past the check above; the unique index decided.
      if (isDuplicateError(error)) throw this.duplicate(name);
      throw error;
    }
  }

  /** The user's projects, by id. */
  async list(ownerId: number): Promise<ProjectDto[]> {
    const projects = await this.projects.listOwned(ownerId);
    return projects.map((p) => ({ id: p.id, name: p.name, description: p.description ?? null }));
  }

  /** The project, if the user owns it; another user's project is as unknown as a missing one (404). */
  async findOwned(ownerId: number, projectId: number): Promise<Project> {
    const project = await this.projects.findOwned(ownerId, projectId);
    if (!project) throw new NotFoundException({ error: 'Project not found' });
    return project;
  }

  /** Default projects never change once made, so their ids are remembered (this is on every scan start). */
  private readonly defaultIds = new Map<number, number>();

  /** The id of the user's default project (created on first use), remembered after the first call. */
  async defaultIdFor(ownerId: number): Promise<number> {
    const known = this.defaultIds.get(ownerId);
    if (known !== undefined) return known;
    const { id } = await this.defaultFor(ownerId);
    this.defaultIds.set(ownerId, id);
    return id;
  }

  /** The user's default project, created on first use: scans started without a project land there. */
  async defaultFor(ownerId: number): Promise<Project> {
    const existing = await this.projects.findDefault(ownerId);
    if (existing) return existing;
    try {
      return await this.projects.create(ownerId, { name: 'Default', isDefault: true });
    } catch (error) {
      if (!isDuplicateError(error)) throw error;
      // Another request created it first (the (owner, name) index).
      const created = await this.projects.findDefault(ownerId);
      if (!created) throw new Error(`no default project for user ${ownerId}, yet "Default" is taken`);
      return created;
    }
  }

  private duplicate(name: string): ConflictException {
    return new ConflictException({ error: `A project named "${name}" already exists` });
  }
}
