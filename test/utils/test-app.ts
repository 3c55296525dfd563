import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DestinationStream } from 'pino';
import { DataSource } from 'typeorm';
import request from 'supertest';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import { createApp } from '../../src/create-app.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-bytes-long!!';
export const TEST_ADMIN = { email: 'admin@test.local', password: 'admin-password-1' };

export interface TestApp {
  app: NestFastifyApplication;
  /** Base URL of the app listening on an ephemeral loopback port. */
  url: string;
  api: ReturnType<typeof request>;
  config: AppConfig;
  dataSource: DataSource;
  db: TestDatabase;
  /** Closes the app; `keepDatabase` leaves the database for another app instance. */
  close(options?: { keepDatabase?: boolean }): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Reuse an existing database (a second instance); by default each app gets a fresh one. */
  db?: TestDatabase;
  /** Where the app's log lines go (pino JSON lines); LOG_LEVEL in `env` decides which. */
  logTo?: DestinationStream;
}

/** The real application on `listen(0)` against real PostgreSQL, configured as in production. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const db = options.db ?? (await createTestDatabase());
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    ADMIN_EMAIL: TEST_ADMIN.email,
    ADMIN_PASSWORD: TEST_ADMIN.password,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'silent',
    // Every test client comes from 127.0.0.1: the throttles are raised unless a test sets them.
    AUTH_RATE_LIMIT: '100000',
    WS_RATE_LIMIT: '100000',
    WS_CONNECT_RATE_LIMIT: '100000',
    ...options.env,
  });
  const app = await createApp({ config, databaseUrl: db.url, logTo: options.logTo });
  await app.listen({ port: 0, host: '127.0.0.1' });
  // A test that times out may have waited on the machine rather than on the app: the longest
  // stall of this process's event loop while the app runs is reported when it closes, if over 5 s
  // (the test's own work shares the loop: input-fuzzing's reaches 0.9-2.1 s).
  const loopDelay = monitorEventLoopDelay({ resolution: 50 });
  loopDelay.enable();
  const url = await app.getUrl();
  return {
    app,
    url,
    api: request(url),
    config,
    dataSource: app.get(DataSource),
    db,
    async close({ keepDatabase = false } = {}) {
      loopDelay.disable();
      const stalledMs = Math.round(loopDelay.max / 1e6);
      if (stalledMs > 5000) {
        console.warn(`the event loop of this test process stalled for up to ${stalledMs} ms`);
      }
      await app.close();
      if (!keepDatabase) {
        await db.drop();
      }
    },
  };
}
