import { confirmedSession } from '../factories/sessions.js';
import { expectError } from '../utils/expect-error.js';
import { parsePrometheus, sampleValue, type Sample } from '../utils/prometheus.js';
import { connectAs, eventually, request } from '../utils/socket-client.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

describe('GET /metrics', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  async function scrape(): Promise<Sample[]> {
    const res = await t.api.get('/metrics');
    expect(res.status).toBe(200);
    return parsePrometheus(res.text);
  }

  it('serves Prometheus text at the root, without a token', async () => {
    const res = await t.api.get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toContain('# TYPE http_requests_total counter');
    expect(res.text).toContain('# TYPE http_request_duration_seconds histogram');
    expect(res.text).toContain('# TYPE video_call_duration_seconds histogram');
    expect(res.text).toContain('process_cpu_user_seconds_total');
    // Not part of the API: neither under /api nor in the OpenAPI document.
    expectError(await t.api.get('/api/metrics'), 404, 'NOT_FOUND');
    const doc = await t.api.get('/api/docs-json');
    expect(Object.keys(doc.body.paths)).not.toContain('/metrics');
  });

  it('counts and times requests by route pattern and status, never by raw URL', async () => {
    const unknownId = '00000000-0000-4000-8000-000000000000';
    const { party } = await confirmedSession(t);
    for (let i = 0; i < 3; i++) {
      const res = await t.api
        .get(`/api/sessions/${unknownId}`)
        .set('Authorization', party.client.auth);
      expect(res.status).toBe(404);
    }
    await t.api.get('/api/no-such-route-1');
    await t.api.get('/api/no-such-route-2');
    const samples = await scrape();
    const labels = { method: 'GET', route: '/api/sessions/:id', status_code: '404' };
    expect(sampleValue(samples, 'http_requests_total', labels)).toBe(3);
    expect(sampleValue(samples, 'http_request_duration_seconds_count', labels)).toBe(3);
    expect(
      sampleValue(samples, 'http_request_duration_seconds_bucket', { ...labels, le: '+Inf' }),
    ).toBe(3);
    expect(
      sampleValue(samples, 'http_requests_total', { route: '(unmatched)', status_code: '404' }),
    ).toBeGreaterThanOrEqual(2);
    expect(samples.some((s) => (s.labels.route ?? '').includes('no-such-route'))).toBe(false);
    expect(samples.some((s) => (s.labels.route ?? '').includes(unknownId))).toBe(false);
  });

  it('counts status transitions by cause and records the length of ended calls', async () => {
    const before = await scrape();
    const { party, id } = await confirmedSession(t);
    const start = await t.api
      .post(`/api/video-calls/start/${id}`)
      .set('Authorization', party.client.auth);
    expect(start.status).toBe(200);
    const end = await t.api
      .post(`/api/video-calls/end/${id}`)
      .set('Authorization', party.psychologist.auth);
    expect(end.status).toBe(200);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string>) =>
      (sampleValue(after, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);
    const transitions = 'session_status_transitions_total';
    expect(delta(transitions, { from: 'Pending', to: 'Confirmed', cause: 'payment' })).toBe(1);
    expect(delta(transitions, { from: 'Confirmed', to: 'In Progress', cause: 'start' })).toBe(1);
    expect(delta(transitions, { from: 'In Progress', to: 'Completed', cause: 'end' })).toBe(1);
    expect(delta('video_call_duration_seconds_count', { cause: 'end' })).toBe(1);
    // A call ended within the same second lands in the smallest bucket.
    expect(delta('video_call_duration_seconds_bucket', { cause: 'end', le: '60' })).toBe(1);
  });

  it('shows open sockets and active rooms of this instance, live', async () => {
    const { party, id } = await confirmedSession(t);
    const gauge = async (name: string) => sampleValue(await scrape(), name);
    expect(await gauge('video_call_open_sockets')).toBe(0);
    expect(await gauge('video_call_active_rooms')).toBe(0);
    const a = await connectAs(t.url, party.client.token);
    const b = await connectAs(t.url, party.client.token);
    try {
      expect(await gauge('video_call_open_sockets')).toBe(2);
      expect((await request(a, 'join-room', { sessionId: id })).ok).toBe(true);
      expect((await request(b, 'join-room', { sessionId: id })).ok).toBe(true);
      expect(await gauge('video_call_active_rooms')).toBe(1);
    } finally {
      a.disconnect();
      b.disconnect();
    }
    await eventually(async () => (await gauge('video_call_open_sockets')) === 0);
    expect(await gauge('video_call_active_rooms')).toBe(0);
  });

  it('counts reconciler runs', async () => {
    const runs = async () =>
      sampleValue(await scrape(), 'call_reconciler_run_duration_seconds_count', {
        outcome: 'ok',
      }) ?? 0;
    const first = await runs();
    expect(first).toBeGreaterThan(0);
    await eventually(async () => (await runs()) > first);
  });
});

describe('GET /metrics, configured', () => {
  it('is absent with METRICS_ENABLED=false', async () => {
    const t = await startTestApp({ env: { METRICS_ENABLED: 'false' } });
    try {
      expectError(await t.api.get('/metrics'), 404, 'NOT_FOUND');
      expect((await t.api.get('/api/health/live')).status).toBe(200);
    } finally {
      await t.close();
    }
  });

  it('needs the METRICS_TOKEN bearer token when one is set', async () => {
    const token = 'metrics-scrape-token-123456';
    const t = await startTestApp({ env: { METRICS_TOKEN: token } });
    try {
      expectError(await t.api.get('/metrics'), 401, 'UNAUTHENTICATED');
      expectError(
        await t.api.get('/metrics').set('Authorization', `Bearer ${token}x`),
        401,
        'UNAUTHENTICATED',
      );
      const ok = await t.api.get('/metrics').set('Authorization', `Bearer ${token}`);
      expect(ok.status).toBe(200);
      expect(ok.text).toContain('http_requests_total');
    } finally {
      await t.close();
    }
  });
});
