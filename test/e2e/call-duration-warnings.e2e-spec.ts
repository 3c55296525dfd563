import { jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { confirmedSession } from '../factories/sessions.js';
import { retrack } from '../utils/session-tracking.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';

describe('call duration warnings', () => {
  let t: TestApp;
  const warn = jest.spyOn(Logger.prototype, 'warn');

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    warn.mockRestore();
    await t.close();
  });

  async function callLasting(seconds: number): Promise<string> {
    const { party, id } = await confirmedSession(t);
    await t.api
      .post(`/api/video-calls/start/${id}`)
      .set('Authorization', party.client.auth)
      .expect(200);
    await t.dataSource.query(
      `UPDATE sessions SET video_call_started = now() - make_interval(secs => $2) WHERE id = $1`,
      [id, seconds],
    );
    await retrack(t.dataSource, id);
    warn.mockClear();
    await t.api
      .post(`/api/video-calls/end/${id}`)
      .set('Authorization', party.client.auth)
      .expect(200);
    return id;
  }

  const warnings = (id: string) =>
    warn.mock.calls.filter(([message]) => String(message).includes(id));

  it.each([
    [20, true],
    [90, false],
    [3 * 3600, false],
    [5 * 3600, true],
  ])('a %i s call: warning logged = %s', async (seconds, expected) => {
    const id = await callLasting(seconds);
    expect(warnings(id).length).toBe(expected ? 1 : 0);
    if (expected) {
      expect(String(warnings(id)[0][0])).toContain('outside 1 minute to 4 hours');
    }
  });
});
