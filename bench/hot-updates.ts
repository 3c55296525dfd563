/**
 * `DATABASE_URL=... npx tsx bench/hot-updates.ts [sessions] [clients]`: start + end of fresh
 * sessions straight through the project's own transition statements (no HTTP), on a migrated
 * database; prints lifecycles/s and how many of the updates of `sessions` were HOT
 * (`pg_stat_user_tables.n_tup_hot_upd / n_tup_upd`), and, when the database runs on this machine,
 * the CPU time its backends spent per lifecycle (steadier than the rate on a shared machine).
 * Issue #25, point 2.
 */
import pg from 'pg';
import { procCpuMs } from './lib/cpu-account.js';
import { seedSessions } from './lib/db.js';
import { transitionStatement } from '../src/sessions/sessions.sql.js';

const count = Number(process.argv[2] ?? 6000);
const clients = Number(process.argv[3] ?? 4);
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: clients + 1 });

async function counters(): Promise<{ upd: number; hot: number }> {
  // The statistics reach the view when a backend reports them; give it a moment.
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const { rows } = await pool.query<{ upd: string; hot: string }>(
    `SELECT n_tup_upd AS upd, n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'sessions'`,
  );
  return { upd: Number(rows[0].upd), hot: Number(rows[0].hot) };
}

/** User + system CPU of a backend, in ms; null if not readable (a database on another machine). */
const cpuMs = (pid: number) => procCpuMs(`/proc/${pid}/stat`);

async function main(): Promise<void> {
  const sessions = await seedSessions(pool, count);
  await pool.query('VACUUM ANALYZE');
  const before = await counters();
  let next = 0;
  const connections = await Promise.all(Array.from({ length: clients }, () => pool.connect()));
  const pids = await Promise.all(
    connections.map(async (c) => (await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid),
  );
  const cpuBefore = await Promise.all(pids.map(cpuMs));
  const started = Date.now();
  await Promise.all(
    connections.map(async (client) => {
      try {
        for (let i = next++; i < sessions.length; i = next++) {
          const s = sessions[i];
          for (const cause of ['start', 'end'] as const) {
            const st = transitionStatement({ sessionId: s.id, cause, actorId: s.clientId });
            const { rowCount } = await client.query(st);
            if (rowCount !== 1) {
              throw new Error(`${cause} of ${s.id} moved nothing`);
            }
          }
        }
      } finally {
        client.release();
      }
    }),
  );
  const seconds = (Date.now() - started) / 1000;
  const cpuAfter = await Promise.all(pids.map(cpuMs));
  const cpu = cpuAfter.every((x) => x !== null)
    ? cpuAfter.reduce((a, x, i) => a + x - cpuBefore[i]!, 0)
    : null;
  const after = await counters();
  const upd = after.upd - before.upd;
  const hot = after.hot - before.hot;
  process.stdout.write(
    `${count} lifecycles, ${clients} clients: ${Math.round(count / seconds)} lifecycles/s; ` +
      `sessions updates ${upd}, HOT ${hot} (${Math.round((100 * hot) / Math.max(upd, 1))}%)` +
      (cpu === null ? '' : `; backend CPU ${((1000 * cpu) / count).toFixed(0)} us per lifecycle`) +
      '\n',
  );
  await pool.end();
}

void main();
