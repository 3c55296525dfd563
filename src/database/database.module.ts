import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './database-options.js';
import { migrate } from './migrate.js';
import { Sql } from './sql.js';

@Module({})
export class DatabaseModule {
  /** Connects to `url` and brings the schema up to date (under a lock) before anything uses it. */
  static forRoot(url: string): DynamicModule {
    return {
      module: DatabaseModule,
      global: true,
      providers: [Sql],
      exports: [Sql],
      imports: [
        TypeOrmModule.forRootAsync({
          useFactory: () => buildDataSourceOptions(url),
          dataSourceFactory: async (options) => {
            await migrate(url);
            return new DataSource(options!).initialize();
          },
        }),
      ],
    };
  }
}
