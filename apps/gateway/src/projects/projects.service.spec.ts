import { ConflictException, NotFoundException } from '@nestjs/common';
import type { Project, ProjectRepository } from '@nso/persistence';
import { duplicateError } from '../users/user-repository.fake';
import { ProjectsService } from './projects.service';

interface Row {
  id: number;
  ownerId: number;
  name: string;
  description: string | null;
  isDefault: boolean;
}

/** The projects table in memory, with its unique (owner, name) index. */
class FakeProjectRepository implements Pick<
  ProjectRepository,
  'create' | 'nameExists' | 'listOwned' | 'findOwned' | 'findDefault'
> {
  rows: Row[] = [];
  creates = 0;
  private nextId = 1;

  create(
    ownerId: number,
    input: { name: string; description?: string | null; isDefault?: boolean },
  ): Promise<Project> {
    this.creates++;
    if (this.rows.some((r) => r.ownerId === ownerId && r.name === input.name)) {
      return Promise.reject(duplicateError());
    }
    const row = {
      id: this.nextId++,
      ownerId,
      name: input.name,
      description: input.description ?? null,
      isDefault: input.isDefault ?? false,
    };
    this.rows.push(row);
    return Promise.resolve(row as unknown as Project);
  }

  nameExists(ownerId: number, name: string): Promise<boolean> {
    return Promise.resolve(this.rows.some((r) => r.ownerId === ownerId && r.name === name));
  }

  listOwned(ownerId: number): Promise<Project[]> {
    return Promise.resolve(this.rows.filter((r) => r.ownerId === ownerId) as unknown as Project[]);
  }

  findOwned(ownerId: number, projectId: number): Promise<Project | null> {
    const row = this.rows.find((r) => r.ownerId === ownerId && r.id === projectId);
    return Promise.resolve((row ?? null) as unknown as Project | null);
  }

  findDefault(ownerId: number): Promise<Project | null> {
    const row = this.rows.find((r) => r.ownerId === ownerId && r.isDefault);
    return Promise.resolve((row ?? null) as unknown as Project | null);
  }
}

function setup() {
  const repository = new FakeProjectRepository();
  const projects = new ProjectsService(repository as unknown as ProjectRepository);
  return { projects, repository };
}

describe('ProjectsService', () => {
  it('creates a project with its name trimmed, and lists the owner its own', async () => {
    const { projects } = setup();
    await expect(projects.create(1, { name: '  Lab  ', description: 'loopback' })).resolves.toEqual({
      id: 1,
      name: 'Lab',
    });
    await projects.create(2, { name: 'Other' });
    await expect(projects.list(1)).resolves.toEqual([{ id: 1, name: 'Lab', description: 'loopback' }]);
    await expect(projects.list(2)).resolves.toEqual([{ id: 2, name: 'Other', description: null }]);
  });

  it('answers 409 for a name the owner has, including when a racing request took it first', async () => {
    const { projects, repository } = setup();
    await projects.create(1, { name: 'Lab' });
    const conflict = { response: { error: 'A project named "Lab" already exists' } };
    await expect(projects.create(1, { name: 'Lab ' })).rejects.toMatchObject(conflict);
    repository.nameExists = () => Promise.resolve(false); // the race: the check saw nothing
    await expect(projects.create(1, { name: 'Lab' })).rejects.toBeInstanceOf(ConflictException);
    await expect(projects.create(2, { name: 'Lab' })).resolves.toMatchObject({ name: 'Lab' });
  });

  it("finds the owner's project; another user's is a 404 like a missing one", async () => {
    const { projects } = setup();
    const { id } = await projects.create(1, { name: 'Lab' });
    await expect(projects.findOwned(1, id)).resolves.toMatchObject({ id, name: 'Lab' });
    await expect(projects.findOwned(2, id)).rejects.toBeInstanceOf(NotFoundException);
    await expect(projects.findOwned(1, id + 1)).rejects.toMatchObject({
      response: { error: 'Project not found' },
    });
  });

  it('creates the default project on first use, once, and remembers its id', async () => {
    const { projects, repository } = setup();
    const id = await projects.defaultIdFor(1);
    expect(repository.rows).toEqual([
      { id, ownerId: 1, name: 'Default', description: null, isDefault: true },
    ]);
    repository.findDefault = () => Promise.reject(new Error('not read again'));
    await expect(projects.defaultIdFor(1)).resolves.toBe(id);
    expect(repository.creates).toBe(1);
  });

  it('takes the default project a racing request created', async () => {
    const { projects, repository } = setup();
    const findDefault = repository.findDefault.bind(repository);
    let reads = 0;
    repository.findDefault = (ownerId) => (reads++ === 0 ? Promise.resolve(null) : findDefault(ownerId));
    const racing = await repository.create(1, { name: 'Default', isDefault: true });
    await expect(projects.defaultFor(1)).resolves.toMatchObject({ id: racing.id, isDefault: true });
    expect(repository.rows).toHaveLength(1);
  });
});
