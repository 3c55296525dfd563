import 'reflect-metadata';
import { loadConfig, type AppConfig } from '../config/app-config.js';
import { resolveJwtSecret } from '../config/jwt-secret.js';
import { createApp } from '../create-app.js';
import { DataDirInUseError } from '../database/data-dir-lock.js';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../database/embedded-postgres.js';
import { ShutdownState } from '../health/shutdown-state.js';
import { seedDemo } from './demo-seed.js';

/**
 * `npm run demo`: the server (embedded PostgreSQL unless DATABASE_URL), a demo client, a demo
 * psychologist and a paid session that can start now (the same ones on every run), and the links
 * to open in two browser tabs.
 */
async function main(): Promise<void> {
  process.env.ADMIN_EMAIL ??= 'admin@demo.local';
  process.env.ADMIN_PASSWORD ??= 'demo-admin-password';
  const config = loadConfig();
  if (config.nodeEnv === 'production') {
    throw new Error('npm run demo creates well-known accounts: not with NODE_ENV=production');
  }
  let embedded: EmbeddedPostgres | undefined;
  let app: Awaited<ReturnType<typeof createApp>> | undefined;
  let demo: Awaited<ReturnType<typeof seedDemo>>;
  try {
    if (!config.databaseUrl) {
      embedded = await startEmbeddedPostgres({ dataDir: config.dataDir });
    }
    const secret = await resolveJwtSecret(config, (m) => process.stderr.write(`${m}\n`));
    app = await createApp({
      config: { ...config, jwt: { ...config.jwt, secret } },
      databaseUrl: config.databaseUrl ?? embedded!.url,
    });
    const running = app;
    const stop = async () => {
      running.get(ShutdownState).beginDraining();
      await running.close();
      await embedded?.stop();
      process.exit(0);
    };
    process.on('SIGINT', () => void stop());
    process.on('SIGTERM', () => void stop());
    await app.listen({ port: config.port, host: config.host });
    demo = await seedDemo(`http://127.0.0.1:${new URL(await app.getUrl()).port}`, config.admin!);
  } catch (error) {
    // A demo that never came up must not leave its embedded PostgreSQL behind.
    await app?.close().catch(() => undefined);
    await embedded?.stop();
    const problem = startupProblem(error, config);
    throw problem === undefined ? error : new Error(problem, { cause: error });
  }
  const port = new URL(await app.getUrl()).port;
  const shown = `http://localhost:${port}`;
  const link = (token: string) => `${shown}/demo/?sessionId=${demo.sessionId}#token=${token}`;
  // Last, after every log line of the start-up, so that the links are what the terminal shows.
  process.stdout.write(
    [
      '',
      `Demo session ${demo.sessionId} (${demo.status}, paid), scheduled ${demo.scheduledStart}.`,
      `Demo accounts' password: ${demo.password}. The links' tokens expire in ${config.jwt.expiresInSeconds} s: run again for fresh ones.`,
      'Ctrl+C stops the server.',
      '',
      'Open these two links in two browser tabs and allow camera and microphone:',
      '',
      `Client (${demo.client.email}):`,
      link(demo.client.token),
      '',
      `Psychologist (${demo.psychologist.email}):`,
      link(demo.psychologist.token),
      '',
      `Swagger UI: ${shown}/api/docs`,
      `Admin login: ${config.admin!.email} / ${config.admin!.password}`,
      '',
    ].join('\n'),
  );
}

/** What to do about the failures a second demo beside a running server meets: one line. */
function startupProblem(error: unknown, config: AppConfig): string | undefined {
  const beside = 'DATA_DIR=./.data-demo PORT=3001 npm run demo';
  if (error instanceof DataDirInUseError) {
    return (
      `${error.message}, which runs its embedded PostgreSQL: to run the demo beside it, ` +
      `${beside} (or set DATABASE_URL)`
    );
  }
  if ((error as NodeJS.ErrnoException | undefined)?.code === 'EADDRINUSE') {
    return (
      `port ${config.port} on ${config.host} is already in use: set another PORT ` +
      `(beside a running server: ${beside})`
    );
  }
  return undefined;
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
