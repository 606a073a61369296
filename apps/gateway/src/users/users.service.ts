import { EntityManager } from '@mikro-orm/core';
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { User } from '@nso/persistence';

const DEFAULT_ADMIN = 'admin';

/** Users of the system. Until sessions and tokens exist, every request acts as the built-in admin. */
@Injectable()
export class UsersService implements OnApplicationBootstrap {
  private defaultAdminId?: number;

  constructor(private readonly em: EntityManager) {}

  async onApplicationBootstrap(): Promise<void> {
    const em = this.em.fork();
    let admin = await em.findOne(User, { username: DEFAULT_ADMIN });
    if (!admin) {
      admin = em.create(User, { username: DEFAULT_ADMIN, role: 'admin' });
      await em.flush();
    }
    this.defaultAdminId = admin.id;
  }

  defaultAdmin(): { id: number; role: 'admin' | 'user' } {
    if (this.defaultAdminId === undefined) throw new Error('UsersService used before bootstrap');
    return { id: this.defaultAdminId, role: 'admin' };
  }
}
