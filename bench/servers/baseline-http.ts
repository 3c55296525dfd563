/**
 * S1/S2 baseline: a framework-free node:http + pg server that does what the project's routes do
 * on the hot path - the same JWT check, the same session query, the same membership and payment
 * checks, the same guarded transition with its history row - and nothing else.
 * `DATABASE_SCHEMA`: the schema whose tables it uses (S2's lean baseline: tables with only
 * primary keys, bench/lib/db.ts `createLeanSchema`); by default the project's own.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import pg from 'pg';
import { secretKey, UUID, verifyToken, type Claims } from '../lib/jwt.js';

const key = secretKey(process.env.JWT_SECRET!);
const jwtOptions = {
  issuer: process.env.JWT_ISSUER ?? 'session-video-api',
  audience: process.env.JWT_AUDIENCE ?? 'session-video-clients',
};
const schema = process.env.DATABASE_SCHEMA;
const pool = new pg.Pool({
  connectionString: process.env.DATABASE_URL,
  max: 20,
  ...(schema ? { options: `-c search_path=${schema}` } : {}),
});

interface Row {
  id: string;
  client_id: string;
  psychologist_id: string;
  client_name: string;
  psychologist_name: string;
  scheduled_start: Date;
  duration_minutes: number;
  status: string;
  payment_status: string;
  video_call_started: Date | null;
  video_call_ended: Date | null;
  call_duration_minutes: number | null;
  created_at: Date;
  updated_at: Date;
}

const CONFIRMED_PAYMENTS = ['Confirmed', 'Paid', 'Verified'];

const SELECT_SESSION = `
  SELECT s.id, s.client_id, s.psychologist_id, c.name AS client_name, p.name AS psychologist_name,
         s.scheduled_start, s.duration_minutes, s.status, s.payment_status, s.video_call_started,
         s.video_call_ended, s.call_duration_minutes, s.created_at, s.updated_at
    FROM sessions s JOIN users c ON c.id = s.client_id JOIN users p ON p.id = s.psychologist_id
   WHERE s.id = $1`;

/** The project's transition statement (session-lifecycle.service.ts), returning the view's columns. */
const TRANSITION: Record<'start' | 'end', string> = {
  start: `WITH prev AS (SELECT id, status FROM sessions WHERE id = $1 FOR UPDATE),
    moved AS (
      UPDATE sessions s SET status = 'In Progress', updated_at = now(), video_call_started = now()
        FROM prev WHERE s.id = prev.id AND s.status = 'Confirmed' AND s.payment_status = ANY($3::text[])
      RETURNING s.*, prev.status AS from_status),
    logged AS (
      INSERT INTO session_status_changes (session_id, from_status, to_status, at, actor_id, cause)
      SELECT id, from_status, status, now(), $2, 'start' FROM moved RETURNING at)
    SELECT m.* FROM moved m CROSS JOIN logged l`,
  end: `WITH prev AS (SELECT id, status FROM sessions WHERE id = $1 FOR UPDATE),
    moved AS (
      UPDATE sessions s SET status = 'Completed', updated_at = now(),
             video_call_ended = GREATEST(now(), s.video_call_started),
             call_duration_minutes = round(extract(epoch FROM GREATEST(now(), s.video_call_started) - s.video_call_started) / 60)
        FROM prev WHERE s.id = prev.id AND s.status = 'In Progress'
      RETURNING s.*, prev.status AS from_status),
    logged AS (
      INSERT INTO session_status_changes (session_id, from_status, to_status, at, actor_id, cause)
      SELECT id, from_status, status, now(), $2, 'end' FROM moved RETURNING at)
    SELECT m.* FROM moved m CROSS JOIN logged l`,
};

function view(r: Row) {
  return {
    id: r.id,
    clientId: r.client_id,
    psychologistId: r.psychologist_id,
    client: { id: r.client_id, name: r.client_name },
    psychologist: { id: r.psychologist_id, name: r.psychologist_name },
    scheduledStart: r.scheduled_start.toISOString(),
    durationMinutes: r.duration_minutes,
    status: r.status,
    paymentStatus: r.payment_status,
    videoCallStarted: r.video_call_started?.toISOString() ?? null,
    videoCallEnded: r.video_call_ended?.toISOString() ?? null,
    duration: r.call_duration_minutes,
    createdAt: r.created_at.toISOString(),
    updatedAt: r.updated_at.toISOString(),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(json),
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
  });
  res.end(json);
}

function fail(res: ServerResponse, status: number, code: string): void {
  send(res, status, { statusCode: status, code, message: code });
}

function authenticate(req: IncomingMessage): Claims | undefined {
  const [scheme, token] = (req.headers.authorization ?? '').split(' ');
  return scheme?.toLowerCase() === 'bearer' && token
    ? verifyToken(key, token, jwtOptions)
    : undefined;
}

async function load(id: string): Promise<Row | undefined> {
  const { rows } = await pool.query<Row>(SELECT_SESSION, [id]);
  return rows[0];
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = req.url ?? '';
  const read = /^\/api\/sessions\/([^/?]+)$/.exec(url);
  const call = /^\/api\/video-calls\/(start|end)\/([^/?]+)$/.exec(url);
  if (!(read && req.method === 'GET') && !(call && req.method === 'POST')) {
    return fail(res, 404, 'NOT_FOUND');
  }
  const user = authenticate(req);
  if (!user) {
    return fail(res, 401, 'UNAUTHENTICATED');
  }
  const id = read ? read[1] : call![2];
  if (!UUID.test(id)) {
    return fail(res, 400, 'VALIDATION_FAILED');
  }
  const session = await load(id);
  if (!session) {
    return fail(res, 404, 'NOT_FOUND');
  }
  const member = session.client_id === user.sub || session.psychologist_id === user.sub;
  if (read) {
    return user.role === 'admin' || member
      ? send(res, 200, view(session))
      : fail(res, 403, 'NOT_PARTICIPANT');
  }
  const action = call![1] as 'start' | 'end';
  if (action === 'start' && user.role === 'admin') {
    return fail(res, 403, 'FORBIDDEN');
  }
  if (user.role !== 'admin' && !member) {
    return fail(res, 403, 'NOT_PARTICIPANT');
  }
  if (action === 'start' && !CONFIRMED_PAYMENTS.includes(session.payment_status)) {
    return fail(res, 403, 'PAYMENT_NOT_CONFIRMED');
  }
  const params = action === 'start' ? [id, user.sub, CONFIRMED_PAYMENTS] : [id, user.sub];
  const { rows } = await pool.query<Row>(TRANSITION[action], params);
  const moved = rows[0];
  if (moved) {
    return send(
      res,
      200,
      view({
        ...moved,
        client_name: session.client_name,
        psychologist_name: session.psychologist_name,
      }),
    );
  }
  const already = action === 'start' ? 'In Progress' : 'Completed';
  return session.status === already
    ? send(res, 200, view(session))
    : fail(res, 409, 'INVALID_TRANSITION');
}

const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    handle(req, res).catch(() => fail(res, 500, 'INTERNAL'));
  });
});
server.keepAliveTimeout = 72_000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stderr.write(`listening on http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  void pool.end().then(() => process.exit(0));
});
