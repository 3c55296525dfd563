import 'reflect-metadata';
import { ConfigError, loadConfig, type AppConfig } from './config/app-config.js';
import { resolveJwtSecret } from './config/jwt-secret.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './database/embedded-postgres.js';
import { createApp } from './create-app.js';
import { ShutdownState } from './health/shutdown-state.js';

const SHUTDOWN_DEADLINE_MS = 10_000;

function say(level: 'info' | 'warn' | 'error', msg: string): void {
  process.stderr.write(`${JSON.stringify({ level, time: new Date().toISOString(), msg })}\n`);
}

function readConfig(): AppConfig {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) {
        process.stderr.write(`config error: ${problem}\n`);
      }
      process.exit(1);
    }
    throw error;
  }
}

async function main(): Promise<void> {
  const config = readConfig();
  let embedded: EmbeddedPostgres | undefined;
  if (!config.databaseUrl) {
    embedded = await startEmbeddedPostgres({ dataDir: config.dataDir, log: (m) => say('info', m) });
  }
  const secret = await resolveJwtSecret(config, (m) => say('warn', m));
  const app = await createApp({
    config: { ...config, jwt: { ...config.jwt, secret } },
    databaseUrl: config.databaseUrl ?? embedded!.url,
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) {
      return;
    }
    stopping = true;
    say('info', `${signal} received: draining`);
    setTimeout(() => {
      say('error', 'shutdown took longer than 10 s: exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS).unref();
    app.get(ShutdownState).beginDraining();
    await app.close();
    await embedded?.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));

  await app.listen({ port: config.port, host: config.host });
  say('info', `listening on ${await app.getUrl()} (docs at /api/docs)`);
}

main().catch((error: unknown) => {
  say(
    'error',
    `start-up failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
  );
  process.exit(1);
});
