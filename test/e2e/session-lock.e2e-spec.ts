import pg from 'pg';
import { ArrayArgs } from '../../src/database/statement-args.js';
import { Sql } from '../../src/database/sql.js';
import { confirmedSession } from '../factories/sessions.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

/**
 * `Sql.underSessionLock`, on which the room join and leave rely: the statement runs after the
 * session's row lock is taken and sees what the previous holder committed; a refusal before the
 * commit leaves nothing behind; a connection's prepared statement survives errors.
 */
describe('Sql.underSessionLock', () => {
  let t: TestApp;
  let sql: Sql;
  let holder: pg.Client;

  beforeAll(async () => {
    t = await startTestApp();
    sql = t.app.get(Sql);
    holder = new pg.Client({ connectionString: t.db.url });
    await holder.connect();
  });
  afterAll(async () => {
    await holder.end();
    await t.close();
  });

  /** Counts the session's history rows, and with `note` adds one: a statement with a visible effect. */
  function countAndNote(sessionId: string, note: string | null) {
    const args = new ArrayArgs();
    const id = args.add(sessionId, 'uuid');
    const text = args.add(note, 'text');
    return {
      text: `WITH noted AS (
               UPDATE sessions SET cancel_reason = ${text} WHERE id = ${id} AND ${text} IS NOT NULL
             )
             SELECT jsonb_build_object(
               'changes', (SELECT count(*) FROM session_status_changes WHERE session_id = ${id}),
               'reason', (SELECT cancel_reason FROM sessions WHERE id = ${id}))`,
      values: args.values,
    };
  }

  it('waits for the row lock, then sees what its holder committed meanwhile', async () => {
    const { session } = await confirmedSession(t);
    const s = countAndNote(session.id, null);
    const before = await sql.underSessionLock<{ changes: number }>(session.id, s.text, s.values);

    await holder.query('BEGIN');
    await holder.query('SELECT FROM sessions WHERE id = $1 FOR UPDATE', [session.id]);
    let settled = false;
    const waiting = sql
      .underSessionLock<{ changes: number }>(session.id, s.text, s.values)
      .finally(() => (settled = true));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(settled).toBe(false); // blocked on the lock
    // Committed after the waiting statement was sent: a statement that took its snapshot before
    // the lock wait would not count it.
    await holder.query(
      `INSERT INTO session_status_changes (session_id, from_status, to_status, at, cause)
       VALUES ($1, 'Confirmed', 'Confirmed', now(), 'payment')`,
      [session.id],
    );
    await holder.query('COMMIT');
    expect((await waiting).changes).toBe(before.changes + 1);
  });

  it('commits nothing when beforeCommit throws, and holds the lock until it returns', async () => {
    const { session } = await confirmedSession(t);
    const noted = countAndNote(session.id, 'noted');
    await expect(
      sql.underSessionLock(session.id, noted.text, noted.values, () => {
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    const read = countAndNote(session.id, null);
    expect(await sql.underSessionLock(session.id, read.text, read.values)).toMatchObject({
      reason: null,
    });

    let lockedSeen = false;
    await sql.underSessionLock(session.id, noted.text, noted.values, async () => {
      const probe = await holder.query(
        `SELECT FROM sessions WHERE id = $1 FOR UPDATE SKIP LOCKED`,
        [session.id],
      );
      lockedSeen = probe.rowCount === 0;
    });
    expect(lockedSeen).toBe(true);
    expect(await sql.underSessionLock(session.id, read.text, read.values)).toMatchObject({
      reason: 'noted',
    });
  });

  it('keeps working on every pooled connection after failed statements', async () => {
    const { session } = await confirmedSession(t);
    const s = countAndNote(session.id, null);
    // Fails when it runs, not when it is prepared (the planner cannot fold the subquery).
    const args = new ArrayArgs();
    const failing = {
      text: `SELECT jsonb_build_object('x', 1 / (SELECT count(*) - count(*) FROM sessions
                                                 WHERE id = ${args.add(session.id, 'uuid')}))`,
      values: args.values,
    };
    // More calls at once than the pool has connections, so that every connection prepares both
    // statements, and fails some of them.
    const calls = Array.from({ length: 40 }, (_, i) =>
      i % 2 === 0
        ? sql.underSessionLock(session.id, failing.text, failing.values).then(
            () => 'ok',
            (error: Error) => error.message,
          )
        : sql.underSessionLock<{ changes: number }>(session.id, s.text, s.values).then(() => 'ok'),
    );
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(20);
    expect(outcomes.filter((o) => o === 'division by zero')).toHaveLength(20);
    const again = await Promise.all(
      Array.from({ length: 20 }, () => sql.underSessionLock(session.id, s.text, s.values)),
    );
    expect(again).toHaveLength(20);
  });
});
