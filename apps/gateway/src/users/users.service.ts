import { Inject, Injectable, Logger, OnApplicationBootstrap, UnauthorizedException } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { isDuplicateError, UserRepository, type User } from '@nso/persistence';
import { hashPassword } from '../auth/passwords';

export interface NewUser {
  username: string;
  email: string | null;
  password: string;
  role: 'admin' | 'user';
  firstName?: string | null;
  lastName?: string | null;
}

/** Accounts: the first admin, registration's writes and checks, and the users as the API shows them. */
@Injectable()
export class UsersService implements OnApplicationBootstrap {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    private readonly users: UserRepository,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** The first admin, from ADMIN_USERNAME / ADMIN_PASSWORD, when no user of that name exists. */
  async onApplicationBootstrap(): Promise<void> {
    const username = this.config.adminUsername.toLowerCase();
    if (await this.users.usernameExists(username)) return;
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
      if (!isDuplicateError(error)) throw error;
    }
  }

  /**
   * Stores a user: username and email lower-cased, the password hashed (scrypt). Throws a duplicate error
   * (isDuplicateError of @nso/persistence) when the name or email is taken.
   */
  async create(input: NewUser): Promise<User> {
    return this.users.create({
      username: input.username.toLowerCase(),
      email: input.email?.toLowerCase() ?? null,
      passwordHash: await hashPassword(input.password),
      role: input.role,
      firstName: input.firstName ?? null,
      lastName: input.lastName ?? null,
    });
  }

  /** The user of this username, whatever its case; null if none. */
  findByUsername(username: string): Promise<User | null> {
    return this.users.findByUsername(username.toLowerCase());
  }

  /** Whether the username, and the email if given, belong to a user already (both case-insensitive). */
  async taken(username: string, email: string | null): Promise<{ username: boolean; email: boolean }> {
    const [byName, byEmail] = await Promise.all([
      this.users.usernameExists(username.toLowerCase()),
      email ? this.users.emailExists(email.toLowerCase()) : Promise.resolve(false),
    ]);
    return { username: byName, email: byEmail };
  }

  /**
   * `GET /api/me`: the user `id` as the API shows users. 401 when the user is gone (deleted between the session
   * lookup and this read), as for any credential that no longer names a user.
   */
  async describe(id: number) {
    const user = await this.users.findById(id);
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

  /** `GET /api/users` (admins): every user by id, with when it was created. */
  async list() {
    const users = await this.users.list();
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
