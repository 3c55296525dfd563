import { jest } from '@jest/globals';
import { DataSource, type Migration } from 'typeorm';
import { MIGRATIONS } from '../../src/database/database-options.js';
import { loginAdmin } from '../factories/users.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { createTestDatabase, type TestDatabase } from '../utils/test-database.js';

const MIGRATION_NAMES = MIGRATIONS.map((m) => m.name).sort();

describe('start-up of several instances on one database', () => {
  let db: TestDatabase;
  const apps: TestApp[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    for (const app of apps) {
      await app.close({ keepDatabase: true });
    }
    await db.drop();
  });

  async function migrationCounts(t: TestApp): Promise<Array<{ name: string; n: number }>> {
    return t.dataSource.query(
      'SELECT name, count(*)::int AS n FROM migrations GROUP BY name ORDER BY name',
    );
  }

  it('two instances migrating the same empty database at once both come up', async () => {
    // Watches (without replacing) every migration run: the database module retries a failed
    // start-up, which would hide a migration that failed because the other instance ran it too.
    const runs = jest.spyOn(DataSource.prototype, 'runMigrations');
    let started: Array<PromiseSettledResult<TestApp>>;
    let outcomes: Array<PromiseSettledResult<Migration[]>>;
    try {
      started = await Promise.allSettled([startTestApp({ db }), startTestApp({ db })]);
      outcomes = await Promise.allSettled(
        runs.mock.results.map((r) => r.value as Promise<Migration[]>),
      );
    } finally {
      runs.mockRestore();
    }
    for (const result of started) {
      if (result.status === 'fulfilled') {
        apps.push(result.value);
      }
    }
    expect(started.map((r) => (r.status === 'rejected' ? String(r.reason) : 'up'))).toEqual([
      'up',
      'up',
    ]);

    // One run per instance, none failed: one applied every migration, the other found none left.
    expect(outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : 'ok'))).toEqual([
      'ok',
      'ok',
    ]);
    const applied = outcomes.map((o) =>
      o.status === 'fulfilled' ? o.value.map((m) => m.name).sort() : [],
    );
    expect(applied.sort((a, b) => a.length - b.length)).toEqual([[], MIGRATION_NAMES]);

    for (const app of apps) {
      const ready = await app.api.get('/api/health/ready');
      expect(ready.status).toBe(200);
    }
    expect(await migrationCounts(apps[0])).toEqual(MIGRATION_NAMES.map((name) => ({ name, n: 1 })));
    // Both serve from the one schema, and the admin exists once.
    for (const app of apps) {
      expect((await loginAdmin(app)).role).toBe('admin');
    }
    const [{ n }] = await apps[0].dataSource.query(
      `SELECT count(*)::int AS n FROM users WHERE role = 'admin'`,
    );
    expect(n).toBe(1);
  });

  it('a third instance on the migrated database applies nothing again', async () => {
    expect(apps).toHaveLength(2);
    const third = await startTestApp({ db });
    apps.push(third);
    expect((await third.api.get('/api/health/ready')).status).toBe(200);
    expect(await migrationCounts(third)).toEqual(MIGRATION_NAMES.map((name) => ({ name, n: 1 })));
  });
});
