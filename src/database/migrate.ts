import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './database-options.js';

/** Arbitrary but fixed: every instance of this service takes the same advisory lock. */
export const MIGRATION_LOCK_KEY = 7_406_213_001;

/**
 * Applies pending migrations while holding a PostgreSQL advisory lock on a dedicated connection,
 * so instances starting together against one database migrate one after the other: the first
 * applies, the others then find nothing to do.
 */
export async function migrateUnderLock(dataSource: DataSource): Promise<string[]> {
  const lockRunner = dataSource.createQueryRunner();
  await lockRunner.connect();
  try {
    await lockRunner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await dataSource.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await lockRunner
      .query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
      .catch(() => undefined);
    await lockRunner.release();
  }
}

/**
 * Brings the schema of `url` up to date on connections of its own, outside the service's pool:
 * the lock may wait for another instance's migration for as long as that takes, and a migration
 * may run long statements, neither of which the pool's bounds (DATABASE_BOUNDS) would allow.
 */
export async function migrate(url: string): Promise<string[]> {
  const dataSource = await new DataSource(buildDataSourceOptions(url, 'migrate')).initialize();
  try {
    return await migrateUnderLock(dataSource);
  } finally {
    await dataSource.destroy();
  }
}
