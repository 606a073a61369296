import { Entity, Enum, OptionalProps, PrimaryKey, Property } from '@mikro-orm/core';

export const USER_ROLES = ['admin', 'user'] as const;
export type UserRole = (typeof USER_ROLES)[number];

@Entity({ tableName: 'users' })
export class User {
  declare [OptionalProps]?:
    'email' | 'passwordHash' | 'role' | 'firstName' | 'lastName' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'integer' })
  id!: number;

  @Property({ type: 'string', unique: true })
  username!: string;

  @Property({ type: 'string', nullable: true, unique: true })
  email: string | null = null;

  @Property({ type: 'text', nullable: true })
  passwordHash: string | null = null;

  @Enum({ items: [...USER_ROLES], type: 'string', default: 'user' })
  role: UserRole = 'user';

  @Property({ type: 'string', nullable: true })
  firstName: string | null = null;

  @Property({ type: 'string', nullable: true })
  lastName: string | null = null;

  @Property({ type: 'datetime' })
  createdAt: Date = new Date();

  @Property({ type: 'datetime', onUpdate: () => new Date() })
  updatedAt: Date = new Date();
}
