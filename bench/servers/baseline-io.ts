/**
 * S3/S4/S5 baseline: a bare socket.io server on the same namespace and transport, with the same
 * JWT handshake check, rooms kept only in socket.io's adapter, the same single UPDATE when the
 * second participant arrives, and signals relayed with `to(room).emit`. Each socket also joins
 * its user's room at connect, the least a server does to reach every socket of a user (the
 * contract's live events per user), so S4's heap per socket compares the same rooms.
 */
import { createServer } from 'node:http';
import pg from 'pg';
import { Server, type Socket } from 'socket.io';
import { secretKey, verifyToken, type Claims } from '../lib/jwt.js';

const key = secretKey(process.env.JWT_SECRET!);
const jwtOptions = {
  issuer: process.env.JWT_ISSUER ?? 'session-video-api',
  audience: process.env.JWT_AUDIENCE ?? 'session-video-clients',
};
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });

const START = `UPDATE sessions SET status = 'In Progress', video_call_started = now(), updated_at = now()
  WHERE id = $1 AND status = 'Confirmed'
  RETURNING status, video_call_started, video_call_ended, call_duration_minutes`;

type Ack = (response: unknown) => void;
interface Data {
  user: Claims;
}

const http = createServer();
const io = new Server(http, { transports: ['websocket'] });
const nsp = io.of('/video-calls');

nsp.use((socket, next) => {
  const token: unknown = (socket.handshake.auth as Record<string, unknown> | undefined)?.token;
  const user = typeof token === 'string' ? verifyToken(key, token, jwtOptions) : undefined;
  if (!user) {
    return next(new Error('UNAUTHENTICATED'));
  }
  (socket.data as Data).user = user;
  next();
});

const room = (sessionId: string) => `session:${sessionId}`;

function usersIn(name: string): Set<string> {
  const users = new Set<string>();
  for (const id of nsp.adapter.rooms.get(name) ?? []) {
    const s = nsp.sockets.get(id);
    if (s) {
      users.add((s.data as Data).user.sub);
    }
  }
  return users;
}

nsp.on('connection', (socket: Socket) => {
  const user = (socket.data as Data).user;
  void socket.join(`user:${user.sub}`);
  socket.on('join-room', (body: { sessionId: string }, ack: Ack) => {
    const name = room(body.sessionId);
    void socket.join(name);
    const users = usersIn(name);
    socket
      .to(name)
      .emit('participant-joined', { sessionId: body.sessionId, userId: user.sub, role: user.role });
    if (users.size < 2) {
      return ack({
        ok: true,
        sessionId: body.sessionId,
        participants: [...users].map((userId) => ({ userId })),
      });
    }
    pool.query(START, [body.sessionId]).then(
      ({ rows }) => {
        const row = rows[0];
        if (row) {
          nsp.to(name).emit('session-status', {
            sessionId: body.sessionId,
            status: row.status,
            videoCallStarted: row.video_call_started?.toISOString() ?? null,
            videoCallEnded: row.video_call_ended?.toISOString() ?? null,
            duration: row.call_duration_minutes,
          });
        }
        ack({
          ok: true,
          sessionId: body.sessionId,
          participants: [...users].map((userId) => ({ userId })),
        });
      },
      () => ack({ ok: false, error: { code: 'INTERNAL', message: 'query failed' } }),
    );
  });
  socket.on('leave-room', (body: { sessionId: string }, ack: Ack) => {
    void socket.leave(room(body.sessionId));
    socket
      .to(room(body.sessionId))
      .emit('participant-left', { sessionId: body.sessionId, userId: user.sub });
    ack({ ok: true });
  });
  socket.on('signal', (body: { sessionId: string; type: string; data: unknown }, ack?: Ack) => {
    const name = room(body.sessionId);
    if (!socket.rooms.has(name)) {
      return ack?.({ ok: false, error: { code: 'NOT_IN_ROOM', message: 'join first' } });
    }
    socket.to(name).emit('signal', {
      sessionId: body.sessionId,
      from: user.sub,
      type: body.type,
      data: body.data,
    });
    ack?.({ ok: true });
  });
});

http.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1', () => {
  const address = http.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stderr.write(`listening on http://127.0.0.1:${port}\n`);
});
process.on('SIGTERM', () => {
  void io.close();
  void pool.end().then(() => process.exit(0));
});
