import { DataSource } from 'typeorm';
import { buildDataSourceOptions, MIGRATIONS } from '../../src/database/database-options.js';
import { migrateUnderLock } from '../../src/database/migrate.js';
import { createTestDatabase, type TestDatabase } from '../utils/test-database.js';

/**
 * The schema as PostgreSQL describes it: tables and their columns, constraints (with their
 * definitions), indexes, types (enums, domains) and extensions, in a stable order. Two schemas built the same way compare
 * equal; a migration whose down() leaves something behind, or drops too much, shows up here.
 */
async function schemaOf(db: DataSource): Promise<Record<string, string[]>> {
  const lines = async (sql: string) =>
    (await db.query<Array<{ line: string }>>(sql)).map((r) => r.line);
  return {
    columns: await lines(`
      SELECT table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable
             || ' ' || coalesce(column_default, '') AS line
        FROM information_schema.columns WHERE table_schema = 'public'
       ORDER BY table_name, column_name`),
    constraints: await lines(`
      SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid) AS line
        FROM pg_constraint WHERE connamespace = 'public'::regnamespace
       ORDER BY conrelid::regclass::text, conname`),
    indexes: await lines(`
      SELECT indexdef AS line FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname`),
    types: await lines(`
      SELECT typname || ' ' || typtype::text AS line FROM pg_type
       WHERE typnamespace = 'public'::regnamespace AND typtype IN ('e', 'd', 'c')
         AND typrelid = 0
       ORDER BY typname`),
    extensions: await lines(`SELECT extname AS line FROM pg_extension ORDER BY extname`),
  };
}

describe('migrations', () => {
  let db: TestDatabase;
  const dataSources: DataSource[] = [];

  /** A connection that knows the first `count` migrations only. */
  async function withFirst(count: number): Promise<DataSource> {
    const dataSource = new DataSource({
      ...buildDataSourceOptions(db.url, 'migrate'),
      migrations: MIGRATIONS.slice(0, count),
    });
    dataSources.push(dataSource);
    return dataSource.initialize();
  }

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    for (const dataSource of dataSources) {
      await dataSource.destroy();
    }
    await db?.drop();
  });

  it('each down() restores the schema its up() started from, down to nothing of ours', async () => {
    // schemas[k]: the schema with the first k migrations applied, one migration at a time.
    const schemas: Array<Record<string, string[]>> = [];
    for (let k = 0; k <= MIGRATIONS.length; k++) {
      const dataSource = await withFirst(k);
      const applied = await migrateUnderLock(dataSource);
      expect(applied).toEqual(k === 0 ? [] : [MIGRATIONS[k - 1].name]);
      schemas.push(await schemaOf(dataSource));
    }

    // Extensions aside: down() leaves them, as something else in the database may use them.
    const withoutExtensions = ({ extensions: _, ...rest }: Record<string, string[]>) => rest;
    const all = await withFirst(MIGRATIONS.length);
    for (let k = MIGRATIONS.length; k > 0; k--) {
      await all.undoLastMigration({ transaction: 'each' });
      const after = `down() of ${MIGRATIONS[k - 1].name}`;
      expect({ after, ...withoutExtensions(await schemaOf(all)) }).toEqual({
        after,
        ...withoutExtensions(schemas[k - 1]),
      });
    }

    // Nothing of ours is left but TypeORM's own table.
    const reverted = await schemaOf(all);
    const tables = (lines: string[]) => [...new Set(lines.map((l) => l.split(/[. ]/)[0]))];
    expect(tables(reverted.columns)).toEqual(['migrations']);
    expect(tables(reverted.constraints)).toEqual(['migrations']);
    expect(reverted.indexes).toEqual([expect.stringContaining(' ON public.migrations ')]);
    expect(reverted.types).toEqual([]);

    // And up again: the same schema as the first time.
    expect(await migrateUnderLock(all)).toEqual(MIGRATIONS.map((m) => m.name));
    expect(await schemaOf(all)).toEqual(schemas[MIGRATIONS.length]);
  });
});
