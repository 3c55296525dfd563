import { randomBytes } from 'node:crypto';
import type { TestApp } from '../utils/test-app.js';
import { TEST_ADMIN } from '../utils/test-app.js';

export interface TestUser {
  id: string;
  email: string;
  name: string;
  role: 'client' | 'psychologist' | 'admin';
  token: string;
  /** `Authorization` header value. */
  auth: string;
}

export const PASSWORD = 'a-good-password';

/** Registers a user through the API. */
export async function registerUser(
  t: TestApp,
  role: 'client' | 'psychologist',
  overrides: { email?: string; name?: string } = {},
): Promise<TestUser> {
  const email = overrides.email ?? `${role}-${randomBytes(5).toString('hex')}@test.local`;
  const name =
    overrides.name ?? `${role === 'client' ? 'Client' : 'Dr.'} ${randomBytes(3).toString('hex')}`;
  const res = await t.api
    .post('/api/auth/register')
    .send({ email, password: PASSWORD, name, role });
  if (res.status !== 201) {
    throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { ...res.body.user, token: res.body.accessToken, auth: `Bearer ${res.body.accessToken}` };
}

/** Logs in as the admin that ADMIN_EMAIL / ADMIN_PASSWORD created at start-up. */
export async function loginAdmin(t: TestApp): Promise<TestUser> {
  const res = await t.api.post('/api/auth/login').send(TEST_ADMIN);
  if (res.status !== 200) {
    throw new Error(`admin login failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { ...res.body.user, token: res.body.accessToken, auth: `Bearer ${res.body.accessToken}` };
}
