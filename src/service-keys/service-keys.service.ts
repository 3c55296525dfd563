import { Injectable } from '@nestjs/common';
import { DomainError } from '../common/errors/domain-error.js';
import { Sql } from '../database/sql.js';
import type { CreateServiceKeyDto } from './dto/service-key.inputs.js';
import type { CreatedServiceKeyView, ListedServiceKeyView } from './dto/service-key.views.js';
import { ServiceKeyVerifier } from './service-key-verifier.js';
import { newServiceKey, serviceKeyHash, type ServiceKeyScope } from './service-key-scopes.js';
import { INSERT_KEY, LIST_KEYS, REVOKE_KEY } from './service-keys.sql.js';

interface KeyRow {
  id: string;
  name: string;
  scopes: ServiceKeyScope[];
  created_at: Date;
  last_used_at: Date | null;
}

/** Service keys, managed by admins: the key text leaves only in the creation's answer. */
@Injectable()
export class ServiceKeysService {
  constructor(
    private readonly sql: Sql,
    private readonly verifier: ServiceKeyVerifier,
  ) {}

  async create(dto: CreateServiceKeyDto): Promise<CreatedServiceKeyView> {
    const key = newServiceKey();
    const [row] = await this.sql.rows<KeyRow>(INSERT_KEY.name, INSERT_KEY.text, [
      dto.name,
      dto.scopes,
      serviceKeyHash(key),
    ]);
    const { id, name, scopes, createdAt } = view(row);
    return { id, name, scopes, createdAt, key };
  }

  async list(): Promise<ListedServiceKeyView[]> {
    const rows = await this.sql.rows<KeyRow>(LIST_KEYS.name, LIST_KEYS.text, []);
    return rows.map(view);
  }

  /** Refused here at once; on other instances once their cached entry runs out (verifier). */
  async revoke(id: string): Promise<void> {
    const rows = await this.sql.rows(REVOKE_KEY.name, REVOKE_KEY.text, [id]);
    this.verifier.evict(id);
    if (rows.length === 0) {
      throw new DomainError('NOT_FOUND', `Service key ${id} does not exist`);
    }
  }
}

function view(row: KeyRow): ListedServiceKeyView {
  return {
    id: row.id,
    name: row.name,
    scopes: row.scopes,
    createdAt: row.created_at.toISOString(),
    lastUsedAt: row.last_used_at?.toISOString() ?? null,
  };
}
