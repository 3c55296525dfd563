import { startTestApp, type TestApp } from '../utils/test-app.js';

describe('smoke', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('is ready', async () => {
    const res = await t.api.get('/api/health/ready');
    expect(res.status).toBe(200);
  });
});
