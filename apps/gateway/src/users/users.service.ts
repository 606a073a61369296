import { EntityManager, UniqueConstraintViolationException } from '@mikro-orm/core';
import { Inject, Injectable, Logger, OnApplicationBootstrap, UnauthorizedException } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { User } from '@nso/persistence';
import { hashPassword } from '../auth/passwords';

export interface NewUser {
  username: string;
  email: string | null;
  password: string;
  role: 'admin' | 'user';
  firstName?: string | null;
  lastName?: string | null;
}

@Injectable()
export class UsersService implements OnApplicationBootstrap {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    private readonly em: EntityManager,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The first admin, from ADMIN_USERNAME / ADMIN_PASSWORD, when no user of that name exists. */
  async onApplicationBootstrap(): Promise<void> {
    const username = this.config.adminUsername.toLowerCase();
    if (await this.em.fork().count(User, { username })) return;
    if (!this.config.adminPassword) {
      this.logger.warn(`no user "${username}" and no ADMIN_PASSWORD: set it to create the first admin`);
      return;
    }
    try {
      await this.create({
        username,
        email: this.config.adminEmail ?? null,
        password: this.config.adminPassword,
        role: 'admin',
      });
      this.logger.log(`created the admin "${username}"`);
    } catch (error) {
      // Another gateway replica created it at the same moment.
      if (!(error instanceof UniqueConstraintViolationException)) throw error;
    }
  }

  async create(input: NewUser): Promise<User> {
    const em = this.em.fork();
    const user = em.create(User, {
      username: input.username.toLowerCase(),
      email: input.email?.toLowerCase() ?? null,
      passwordHash: await hashPassword(input.password),
      role: input.role,
      firstName: input.firstName ?? null,
      lastName: input.lastName ?? null,
    });
    await em.flush();
    return user;
  }

  findByUsername(username: string): Promise<User | null> {
    return this.em.fork().findOne(User, { username: username.toLowerCase() });
  }

  async taken(username: string, email: string | null): Promise<{ username: boolean; email: boolean }> {
    const em = this.em.fork();
    const [byName, byEmail] = await Promise.all([
      em.count(User, { username: username.toLowerCase() }),
      email ? em.count(User, { email: email.toLowerCase() }) : Promise.resolve(0),
    ]);
    return { username: byName > 0, email: byEmail > 0 };
  }

  /**
   * `GET /api/me`: the user `id` as the API shows users. 401 when the user is gone (deleted between the session
   * lookup and this read), as for any credential that no longer names a user.
   */
  async describe(id: number) {
    const user = await this.em.fork().findOne(User, id);
    if (!user) throw new UnauthorizedException({ error: 'Authentication required' });
    return {
      id: user.id,
      username: user.username,
      email: user.email,
      role: user.role,
      first_name: user.firstName,
      last_name: user.lastName,
    };
  }

  async list() {
    const users = await this.em.fork().find(User, {}, { orderBy: { id: 'asc' } });
    return users.map((u) => ({
      id: u.id,
      username: u.username,
      email: u.email,
      role: u.role,
      first_name: u.firstName,
      last_name: u.lastName,
      created_at: u.createdAt,
    }));
  }
}
