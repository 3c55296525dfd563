import type { Browser, BrowserContext, Page } from 'playwright-core';
import { confirmedSession } from '../factories/sessions.js';
import { chromiumAvailable, launchChromium, screenshotPath } from '../utils/chromium.js';
import { eventually } from '../utils/socket-client.js';
import { startTestApp, TEST_ADMIN, type TestApp } from '../utils/test-app.js';

const GRACE_SECONDS = 2;
/** Generous: two cores, other test files running, Swagger UI's bundle and WebRTC in one box. */
const BROWSER_TIMEOUT_MS = 90_000;

/** Console errors, uncaught exceptions and failed requests of a page. */
function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') {
      errors.push(message.text());
    }
  });
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('response', (response) => {
    if (response.status() >= 400) {
      errors.push(`${response.status()} ${response.url()}`);
    }
  });
  return errors;
}

/**
 * The Content-Security-Policy violations a page reports (`securitypolicyviolation` events, which
 * also fire for blocked code that fails silently), across navigations. Call before `goto`.
 */
async function collectCspViolations(page: Page): Promise<string[]> {
  const violations: string[] = [];
  await page.exposeFunction('reportCspViolation', (violation: string) => {
    violations.push(violation);
  });
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => {
      const report = (globalThis as unknown as Record<string, (v: string) => void>)
        .reportCspViolation;
      report(`${e.effectiveDirective} blocked ${e.blockedURI} (${e.sourceFile}:${e.lineNumber})`);
    });
  });
  return violations;
}

/**
 * Proves the page runs under an enforced policy that the collector sees: an injected inline script
 * does not run and is reported. Call last: the refusal is also a console error.
 */
async function expectInlineScriptRefused(page: Page, violations: string[]): Promise<void> {
  const before = violations.length;
  const ran = await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'globalThis.inlineScriptRan = true';
    document.body.append(script);
    return (globalThis as unknown as Record<string, unknown>).inlineScriptRan === true;
  });
  expect(ran).toBe(false);
  await eventually(() => Promise.resolve(violations.length > before), 5000);
  expect(violations.slice(before).join('\n')).toMatch(/^script-src/);
}

/** The page shows the call In Progress, connected, with the other side's video playing. */
async function expectInCall(page: Page): Promise<void> {
  const text = (id: string) => page.locator(`[data-testid="${id}"]`);
  await expect(
    text('status').filter({ hasText: 'In Progress' }).waitFor({ timeout: BROWSER_TIMEOUT_MS }),
  ).resolves.toBeUndefined();
  await page.waitForFunction(
    () => document.querySelector('[data-testid="connection"]')?.textContent === 'connected',
    undefined,
    { timeout: BROWSER_TIMEOUT_MS },
  );
  // The other side's camera (Chromium's fake device) arrives as decoded frames.
  await page.waitForFunction(
    () => {
      const video = document.querySelector<HTMLVideoElement>('[data-testid="remote-video"]');
      return (
        !!video &&
        video.videoWidth > 0 &&
        video.getVideoPlaybackQuality().totalVideoFrames > 0 &&
        video.currentTime > 0
      );
    },
    undefined,
    { timeout: BROWSER_TIMEOUT_MS },
  );
  const local = await page.evaluate(() => {
    const video = document.querySelector<HTMLVideoElement>('[data-testid="local-video"]');
    return video?.srcObject instanceof MediaStream;
  });
  expect(local).toBe(true);
}

(chromiumAvailable() ? describe : describe.skip)('in Chromium', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    [t, browser] = await Promise.all([
      startTestApp({ env: { EMPTY_ROOM_TIMEOUT_SECONDS: String(GRACE_SECONDS) } }),
      launchChromium(),
    ]);
  }, BROWSER_TIMEOUT_MS);
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it(
    'Swagger UI renders every operation, and Authorize + Try it out on GET /api/auth/me answers 200',
    async () => {
      const doc = (await t.api.get('/api/docs-json')).body;
      const operationCount = Object.values<Record<string, unknown>>(doc.paths).reduce(
        (n, item) => n + Object.keys(item).length,
        0,
      );
      const login = await t.api.post('/api/auth/login').send(TEST_ADMIN);
      expect(login.status).toBe(200);

      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      try {
        const page = await context.newPage();
        const errors = collectErrors(page);
        const violations = await collectCspViolations(page);
        const response = await page.goto(`${t.url}/api/docs`);
        expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
        await page.locator('.opblock').first().waitFor({ timeout: BROWSER_TIMEOUT_MS });
        expect(await page.locator('.opblock').count()).toBe(operationCount);

        await page.locator('.scheme-container button.authorize').click();
        const modal = page.locator('.modal-ux');
        await modal.locator('input').first().fill(login.body.accessToken);
        await modal.locator('button.authorize').click();
        await modal.locator('button.btn-done, button.close-modal').first().click();

        const me = page.locator('#operations-auth-getMe');
        await me.locator('.opblock-summary').click();
        await me.locator('button.try-out__btn').click();
        await me.locator('button.execute').click();
        const status = me.locator('.live-responses-table .response .response-col_status').first();
        await status.waitFor({ timeout: BROWSER_TIMEOUT_MS });
        expect((await status.textContent())?.trim()).toBe('200');
        await expect(me.locator('.live-responses-table').textContent()).resolves.toContain(
          login.body.user.id,
        );
        await status.scrollIntoViewIfNeeded();
        await page.screenshot({ path: screenshotPath('swagger-ui'), fullPage: false });
        expect(errors).toEqual([]);
        expect(violations).toEqual([]);
        await expectInlineScriptRefused(page, violations);
      } finally {
        await context.close();
      }
    },
    BROWSER_TIMEOUT_MS * 2,
  );

  it(
    'two tabs of /demo hold a call through our signaling, also across a reload; closing both ends it after the grace period',
    async () => {
      const { party, id } = await confirmedSession(t);
      const contexts: BrowserContext[] = [];
      const open = async (token: string) => {
        const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
        contexts.push(context);
        const page = await context.newPage();
        const errors = collectErrors(page);
        const violations = await collectCspViolations(page);
        // Through /demo (the redirect keeps the query; the browser keeps the fragment).
        const response = await page.goto(`${t.url}/demo?sessionId=${id}#token=${token}`);
        expect(response?.headers()['content-security-policy']).toContain("default-src 'none'");
        return { page, errors, violations };
      };
      try {
        const client = await open(party.client.token);
        const psychologist = await open(party.psychologist.token);
        for (const { page } of [client, psychologist]) {
          await expectInCall(page);
        }
        await client.page.screenshot({ path: screenshotPath('demo-client') });
        await psychologist.page.screenshot({ path: screenshotPath('demo-psychologist') });
        const session = await t.api
          .get(`/api/sessions/${id}`)
          .set('Authorization', party.client.auth);
        expect(session.body.status).toBe('In Progress');
        // One side reloads (leaves and comes back; its page is revalidated, a 304): the call
        // carries on with a new connection.
        await psychologist.page.reload();
        for (const { page } of [psychologist, client]) {
          await expectInCall(page);
        }
        expect([...client.errors, ...psychologist.errors]).toEqual([]);
        expect([...client.violations, ...psychologist.violations]).toEqual([]);
        await expectInlineScriptRefused(client.page, client.violations);

        // Both tabs close: the room is empty, and after the grace period the call completes.
        await Promise.all(contexts.splice(0).map((c) => c.close()));
        const ended = await eventually(
          async () => {
            const res = await t.api
              .get(`/api/sessions/${id}`)
              .set('Authorization', party.client.auth);
            return res.body.status === 'Completed' ? res.body : undefined;
          },
          (GRACE_SECONDS + 20) * 1000,
        );
        expect(ended.videoCallEnded).not.toBeNull();
        const history = await t.api
          .get(`/api/sessions/${id}/history`)
          .set('Authorization', party.client.auth);
        expect(history.body.map((h: { cause: string }) => h.cause)).toEqual([
          'payment',
          'auto-start',
          'auto-end',
        ]);
      } finally {
        await Promise.all(contexts.map((c) => c.close()));
      }
    },
    BROWSER_TIMEOUT_MS * 3,
  );
});
