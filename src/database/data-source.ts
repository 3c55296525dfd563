import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './database-options.js';

/**
 * For the TypeORM CLI (`npm run migration:generate`, `npm run migration:run`), which needs a
 * running server: set DATABASE_URL (for the embedded one, `npm start` logs its address).
 */
const url = process.env.DATABASE_URL;
if (!url) {
  throw new Error('DATABASE_URL must be set for the TypeORM CLI');
}
// Unbounded like the service's own migrations (see `migrate`): the CLI runs and generates them.
export default new DataSource(buildDataSourceOptions(url, 'migrate'));
