import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { DomainError } from '../common/errors/domain-error.js';
import { isUniqueViolation } from '../database/postgres-errors.js';
import { Sql } from '../database/sql.js';
import {
  INSERT_USER,
  UPSERT_ADMIN,
  USER_BY_EMAIL,
  USER_BY_ID,
  userOf,
  type UserRow,
} from './auth.sql.js';
import { PasswordHasher } from './password-hasher.js';
import type { User, UserRole } from './user.entity.js';

export interface NewUser {
  email: string;
  name: string;
  role: UserRole;
  password: string;
}

@Injectable()
export class UsersService implements OnApplicationBootstrap {
  private readonly logger = new Logger(UsersService.name);

  constructor(
    private readonly hasher: PasswordHasher,
    private readonly sql: Sql,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(input: NewUser): Promise<User> {
    const passwordHash = await this.hasher.hash(input.password);
    try {
      const [row] = await this.sql.rows<UserRow>(INSERT_USER.name, INSERT_USER.text, [
        input.email.toLowerCase(),
        input.name,
        input.role,
        passwordHash,
      ]);
      return userOf(row);
    } catch (error) {
      if (isUniqueViolation(error, 'users_email_key')) {
        throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
      }
      throw error;
    }
  }

  async findById(id: string): Promise<User | null> {
    const [row] = await this.sql.rows<UserRow>(USER_BY_ID.name, USER_BY_ID.text, [id]);
    return row ? userOf(row) : null;
  }

  /** With the password hash, for login only. */
  async findByEmailWithHash(email: string): Promise<User | null> {
    const [row] = await this.sql.rows<UserRow>(USER_BY_EMAIL.name, USER_BY_EMAIL.text, [
      email.toLowerCase(),
    ]);
    return row ? userOf(row) : null;
  }

  /** ADMIN_EMAIL / ADMIN_PASSWORD: the account exists as an admin with that password after start-up. */
  async onApplicationBootstrap(): Promise<void> {
    const admin = this.config.admin;
    if (!admin) {
      return;
    }
    const passwordHash = await this.hasher.hash(admin.password);
    await this.sql.rows(UPSERT_ADMIN.name, UPSERT_ADMIN.text, [
      admin.email,
      passwordHash,
      'admin' satisfies UserRole,
    ]);
    this.logger.log(`admin account ${admin.email} is ready`);
  }
}
