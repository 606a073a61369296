import {
  BadRequestException,
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
} from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@nso/config';
import { isDuplicateError } from '@nso/persistence';
import { LoginThrottle } from '../rate-limit/login-throttle.service';
import { UsersService } from '../users/users.service';
import { LoginDto, RegisterDto } from './auth.dto';
import { passwordWeakness, verifyPassword } from './passwords';
import { SessionStore } from './session.store';

export interface StartedSession {
  sessionId: string;
  /** Cookie lifetime: a remembered session outlives the browser, a plain one ends with it. */
  cookieMaxAgeSeconds?: number;
}

/** Logins under the login limits, open registration, and logouts; sessions live in Redis (SessionStore). */
@Injectable()
export class AuthService {
  constructor(
    private readonly users: UsersService,
    private readonly sessions: SessionStore,
    private readonly throttle: LoginThrottle,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /**
   * Checks the credentials under the login limits. The attempt registered by assertAllowed ends on every path:
   * as a failure (wrong credentials), a success, or released when anything else throws (a database or Redis
   * error), so errors never leave attempts "under way" that lock out the right password.
   */
  async login(input: LoginDto, ip: string): Promise<StartedSession> {
    await this.throttle.assertAllowed(input.username, ip);
    let judged = false;
    try {
      const user = await this.users.findByUsername(input.username);
      const valid = await verifyPassword(input.password, user?.passwordHash ?? null);
      if (!user || !valid) {
        judged = true;
        await this.throttle.recordFailure(input.username, ip);
        throw new UnauthorizedException({ error: 'Invalid username or password' });
      }
      judged = true;
      await this.throttle.recordSuccess(input.username, ip);
      return await this.startSession(user.id, input.remember ?? false);
    } finally {
      if (!judged) await this.throttle.release(input.username, ip).catch(() => undefined);
    }
  }

  /**
   * Registers a user (role `user`) and signs it in. Errors: 403 when registration is closed; 400 with
   * `invalid_fields` naming every problem (name or email taken, weak password, confirmation differs), also when
   * another request registered the same name or email first.
   */
  async register(input: RegisterDto): Promise<StartedSession> {
    if (!this.config.registrationOpen) throw new ForbiddenException({ error: 'Registration is closed' });
    const problems: Record<string, string> = {};
    const taken = await this.users.taken(input.username, input.email);
    if (taken.username) problems.username = 'username is already taken';
    if (taken.email) problems.email = 'email is already registered';
    const weakness = passwordWeakness(input.password, input.username);
    if (weakness) problems.password = `password ${weakness}`;
    if (input.password !== input.confirm_password)
      problems.confirm_password = 'confirm_password does not match password';
    if (Object.keys(problems).length > 0) throw this.invalid(problems);
    try {
      const user = await this.users.create({
        username: input.username,
        email: input.email,
        password: input.password,
        role: 'user',
        firstName: input.first_name,
        lastName: input.last_name,
      });
      return this.startSession(user.id, false);
    } catch (error) {
      if (isDuplicateError(error)) {
        throw this.invalid({ username: 'username or email is already registered' });
      }
      throw error;
    }
  }

  /** Ends the session, if any. */
  logout(sessionId: string | undefined): Promise<void> {
    return sessionId ? this.sessions.destroy(sessionId) : Promise.resolve();
  }

  private async startSession(userId: number, remember: boolean): Promise<StartedSession> {
    const sessionId = await this.sessions.create(userId, remember);
    return { sessionId, cookieMaxAgeSeconds: remember ? this.sessions.ttlSeconds(true) : undefined };
  }

  private invalid(problems: Record<string, string>): BadRequestException {
    return new BadRequestException({ error: Object.values(problems).join('; '), invalid_fields: problems });
  }
}
