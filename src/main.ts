import 'reflect-metadata';
import { ConfigError, loadConfig, type AppConfig } from './config/app-config.js';
import { resolveJwtSecret } from './config/jwt-secret.js';
import { DataDirInUseError } from './database/data-dir-lock.js';
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

type App = Awaited<ReturnType<typeof createApp>>;

async function main(config: AppConfig): Promise<void> {
  let embedded: EmbeddedPostgres | undefined;
  let app: App | undefined;
  try {
    if (!config.databaseUrl) {
      embedded = await startEmbeddedPostgres({
        dataDir: config.dataDir,
        log: (m) => say('info', m),
      });
    }
    const secret = await resolveJwtSecret(config, (m) => say('warn', m));
    app = await createApp({
      config: { ...config, jwt: { ...config.jwt, secret } },
      databaseUrl: config.databaseUrl ?? embedded!.url,
    });
    handleSignals(app, embedded);
    await app.listen({ port: config.port, host: config.host });
  } catch (error) {
    // A server that never came up must not leave its embedded PostgreSQL behind.
    await app?.close().catch(() => undefined);
    await embedded?.stop();
    throw error;
  }
  say('info', `listening on ${await app.getUrl()} (docs at /api/docs)`);
}

function handleSignals(app: App, embedded: EmbeddedPostgres | undefined): void {
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
  // A promise some dependency forgot to handle is a bug to log, not a reason to drop every call
  // this instance serves: presence is repaired at the next beat whatever that promise left undone.
  process.on('unhandledRejection', (reason) => {
    say(
      'error',
      `unhandled rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`,
    );
  });
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

/** The failures a person fixes by choosing another data directory or port: one line, no stack. */
function startupProblem(error: unknown, config: AppConfig): string | undefined {
  if (error instanceof DataDirInUseError) {
    const owner = error.ownerPid === undefined ? 'another process' : `process ${error.ownerPid}`;
    return (
      `start-up refused: ${error.message}, which runs its embedded PostgreSQL: ` +
      `set another DATA_DIR (e.g. DATA_DIR=./.data-2 PORT=3001 npm start) or stop ${owner}`
    );
  }
  if ((error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE') {
    return (
      `start-up refused: port ${config.port} on ${config.host} is already in use: ` +
      `set another PORT, or stop the process listening there`
    );
  }
  return undefined;
}

const config = readConfig();
main(config).catch((error: unknown) => {
  const problem = startupProblem(error, config);
  if (problem) {
    process.stderr.write(`${problem}\n`);
  } else {
    say(
      'error',
      `start-up failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  }
  process.exit(1);
});
