/** What `npm run demo` prints. */
export interface DemoSeed {
  sessionId: string;
  status: string;
  scheduledStart: string;
  password: string;
  client: { email: string; token: string };
  psychologist: { email: string; token: string };
}

const PASSWORD = 'demo-password';
const CLIENT = { email: 'demo-client@example.com', name: 'Demo Client', role: 'client' };
const PSYCHOLOGIST = {
  email: 'demo-psychologist@example.com',
  name: 'Dr. Demo',
  role: 'psychologist',
};
const LIVE = ['Pending', 'Confirmed', 'In Progress'];

interface Reply<T> {
  status: number;
  body: T;
}

interface AuthBody {
  accessToken: string;
  user: { id: string };
}

interface SessionBody {
  id: string;
  psychologistId: string;
  status: string;
  scheduledStart: string;
}

async function api<T>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  token?: string,
): Promise<Reply<T>> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

function expectStatus<T>(res: Reply<T>, status: number, what: string): T {
  if (res.status !== status) {
    throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return res.body;
}

/** Logs in, or registers the first time. */
async function account(base: string, user: typeof CLIENT): Promise<AuthBody> {
  const login = await api<AuthBody>(base, 'POST', '/api/auth/login', {
    email: user.email,
    password: PASSWORD,
  });
  if (login.status === 200) {
    return login.body;
  }
  const registered = await api<AuthBody>(base, 'POST', '/api/auth/register', {
    ...user,
    password: PASSWORD,
  });
  return expectStatus(registered, 201, `registering ${user.email}`);
}

/**
 * The demo's accounts and a paid session that can start now, through the public API (so it goes
 * through every rule the product has). Idempotent: a live session of the two is reused.
 */
export async function seedDemo(
  base: string,
  admin: { email: string; password: string },
): Promise<DemoSeed> {
  const client = await account(base, CLIENT);
  const psychologist = await account(base, PSYCHOLOGIST);
  const adminToken = expectStatus(
    await api<AuthBody>(base, 'POST', '/api/auth/login', admin),
    200,
    'admin login',
  ).accessToken;

  const list = expectStatus(
    await api<{ items: SessionBody[] }>(
      base,
      'GET',
      '/api/sessions?limit=100',
      undefined,
      client.accessToken,
    ),
    200,
    'listing sessions',
  );
  let session =
    list.items.find((s) => s.psychologistId === psychologist.user.id && LIVE.includes(s.status)) ??
    expectStatus(
      await api<SessionBody>(
        base,
        'POST',
        '/api/sessions',
        { psychologistId: psychologist.user.id, scheduledStart: new Date().toISOString() },
        client.accessToken,
      ),
      201,
      'booking the demo session',
    );
  if (session.status === 'Pending') {
    session = expectStatus(
      await api<SessionBody>(
        base,
        'POST',
        `/api/sessions/${session.id}/payment`,
        { paymentStatus: 'Paid' },
        adminToken,
      ),
      200,
      'confirming the payment',
    );
  }
  return {
    sessionId: session.id,
    status: session.status,
    scheduledStart: session.scheduledStart,
    password: PASSWORD,
    client: { email: CLIENT.email, token: client.accessToken },
    psychologist: { email: PSYCHOLOGIST.email, token: psychologist.accessToken },
  };
}
