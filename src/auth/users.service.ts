import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import type { AppConfig } from '../config/app-config.js';
import { APP_CONFIG } from '../config/config.module.js';
import { DomainError } from '../common/errors/domain-error.js';
import { isUniqueViolation } from '../database/postgres-errors.js';
import { Sql } from '../database/sql.js';
import { PasswordHasher } from './password-hasher.js';
import { User, type UserRole } from './user.entity.js';

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
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly hasher: PasswordHasher,
    private readonly sql: Sql,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  async create(input: NewUser): Promise<User> {
    const passwordHash = await this.hasher.hash(input.password);
    try {
      const user = await this.users.save(
        this.users.create({
          email: input.email.toLowerCase(),
          name: input.name,
          role: input.role,
          passwordHash,
        }),
      );
      return user;
    } catch (error) {
      if (isUniqueViolation(error, 'users_email_key')) {
        throw new DomainError('EMAIL_TAKEN', 'An account with this email already exists');
      }
      throw error;
    }
  }

  findById(id: string): Promise<User | null> {
    return this.users.findOneBy({ id });
  }

  /** With the password hash, for login only (a prepared statement: every login runs it). */
  async findByEmailWithHash(email: string): Promise<User | null> {
    const [row] = await this.sql.rows<{
      id: string;
      email: string;
      name: string;
      role: UserRole;
      password_hash: string;
      created_at: Date;
    }>(
      'user-by-email',
      'SELECT id, email, name, role, password_hash, created_at FROM users WHERE email = $1',
      [email.toLowerCase()],
    );
    return row
      ? Object.assign(new User(), {
          id: row.id,
          email: row.email,
          name: row.name,
          role: row.role,
          passwordHash: row.password_hash,
          createdAt: row.created_at,
        })
      : null;
  }

  /** ADMIN_EMAIL / ADMIN_PASSWORD: the account exists as an admin with that password after start-up. */
  async onApplicationBootstrap(): Promise<void> {
    const admin = this.config.admin;
    if (!admin) {
      return;
    }
    const passwordHash = await this.hasher.hash(admin.password);
    await this.users.query(
      `INSERT INTO users (email, name, role, password_hash) VALUES ($1, 'Administrator', 'admin', $2)
       ON CONFLICT (email) DO UPDATE SET role = 'admin', password_hash = EXCLUDED.password_hash`,
      [admin.email, passwordHash],
    );
    this.logger.log(`admin account ${admin.email} is ready`);
  }
}
