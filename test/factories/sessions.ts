import type { TestApp } from '../utils/test-app.js';
import type { TestUser } from './users.js';
import { loginAdmin, registerUser } from './users.js';

/** A session as the API returns it (PRODUCT.md section 4, `session`). */
export interface SessionJson {
  id: string;
  clientId: string;
  psychologistId: string;
  client: { id: string; name: string };
  psychologist: { id: string; name: string };
  scheduledStart: string;
  durationMinutes: number;
  status: string;
  paymentStatus: string;
  videoCallStarted: string | null;
  videoCallEnded: string | null;
  duration: number | null;
  createdAt: string;
  updatedAt: string;
  [field: string]: unknown;
}

export interface Party {
  client: TestUser;
  psychologist: TestUser;
  admin: TestUser;
}

/** A client, a psychologist and the admin. */
export async function createParty(t: TestApp): Promise<Party> {
  const [client, psychologist, admin] = await Promise.all([
    registerUser(t, 'client'),
    registerUser(t, 'psychologist'),
    loginAdmin(t),
  ]);
  return { client, psychologist, admin };
}

/** Books a session as the client; by default it starts now. Returns the session JSON. */
export async function bookSession(
  t: TestApp,
  party: Party,
  body: { scheduledStart?: string; durationMinutes?: number } = {},
): Promise<SessionJson> {
  const res = await t.api
    .post('/api/sessions')
    .set('Authorization', party.client.auth)
    .send({
      psychologistId: party.psychologist.id,
      scheduledStart: new Date().toISOString(),
      ...body,
    });
  if (res.status !== 201) {
    throw new Error(`booking failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** Records a payment status as the admin. */
export async function pay(
  t: TestApp,
  party: Party,
  sessionId: string,
  paymentStatus = 'Paid',
): Promise<SessionJson> {
  const res = await t.api
    .post(`/api/sessions/${sessionId}/payment`)
    .set('Authorization', party.admin.auth)
    .send({ paymentStatus });
  if (res.status !== 200) {
    throw new Error(`payment failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** A booked and paid session (status Confirmed) with fresh participants. */
export async function confirmedSession(t: TestApp, party?: Party) {
  const p = party ?? (await createParty(t));
  const session = await bookSession(t, p);
  const paid = await pay(t, p, session.id);
  return { party: p, session: paid, id: session.id };
}
