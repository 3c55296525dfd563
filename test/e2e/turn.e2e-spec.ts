import type { Browser, BrowserContext, Page } from 'playwright-core';
import { confirmedSession } from '../factories/sessions.js';
import type { TestUser } from '../factories/users.js';
import { chromiumAvailable, launchChromium, screenshotPath } from '../utils/chromium.js';
import { coturnAvailable, Coturn } from '../utils/coturn.js';
import { parsePrometheus, sampleValue } from '../utils/prometheus.js';
import { connectAs, request, sleep } from '../utils/socket-client.js';
import { startTestApp, type TestApp } from '../utils/test-app.js';
import { turnAllocate } from '../utils/turn-allocate.js';

const TURN_SECRET = 'the-relay-secret-shared-with-coturn-0123456789';
const BROWSER_TIMEOUT_MS = 90_000;

interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/** The relay entry of an ice-servers answer or join-room acknowledgement. */
function relayOf(iceServers: IceServer[]): Required<IceServer> {
  const relay = iceServers.find((s) => s.urls.some((u) => u.startsWith('turn:')));
  expect(relay).toEqual({
    urls: expect.any(Array),
    username: expect.any(String),
    credential: expect.any(String),
  });
  return relay as Required<IceServer>;
}

/** What the selected candidate pair of every connected peer connection of the page is made of. */
async function selectedPairs(page: Page) {
  return page.evaluate(async () => {
    const pcs = (globalThis as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections;
    const pairs = [];
    for (const pc of pcs.filter((p) => p.connectionState === 'connected')) {
      const stats = [...(await pc.getStats()).values()] as Array<Record<string, any>>;
      const byId = new Map(stats.map((s) => [s.id, s]));
      const transport = stats.find((s) => s.type === 'transport' && s.selectedCandidatePairId);
      const pair = byId.get(transport?.selectedCandidatePairId);
      const local = byId.get(pair?.localCandidateId);
      const remote = byId.get(pair?.remoteCandidateId);
      pairs.push({
        policy: pc.getConfiguration().iceTransportPolicy,
        state: pair?.state,
        localType: local?.candidateType,
        localUrl: local?.url,
        remoteType: remote?.candidateType,
        bytesReceived: pair?.bytesReceived ?? 0,
      });
    }
    return pairs;
  });
}

/**
 * The selected pairs once none has a check in flight: Chromium reports a selected pair as
 * `in-progress` while one of its periodic connectivity (consent) checks is outstanding.
 */
async function settledPairs(page: Page) {
  for (let attempt = 0; ; attempt++) {
    const pairs = await selectedPairs(page);
    if (attempt === 50 || pairs.every((p) => p.state === 'succeeded')) {
      return pairs;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

(coturnAvailable() ? describe : describe.skip)('TURN: short-lived credentials per user', () => {
  let coturn: Coturn;
  let t: TestApp;
  const logLines: string[] = [];
  /** Every credential handed out here: none may appear in a log line. */
  const issued: string[] = [];

  beforeAll(async () => {
    coturn = await Coturn.start(TURN_SECRET);
    t = await startTestApp({
      env: {
        TURN_URLS: `${coturn.url}?transport=udp`,
        TURN_SECRET,
        // Everything the service can log, to prove the credentials are not in it.
        LOG_LEVEL: 'trace',
      },
      logTo: { write: (line: string) => logLines.push(line) },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    await coturn?.stop();
  });

  async function issuedVia(via: 'rest' | 'join-room'): Promise<number> {
    const samples = parsePrometheus((await t.api.get('/metrics')).text);
    return sampleValue(samples, 'turn_credentials_issued_total', { via }) ?? 0;
  }

  async function iceServersOf(app: TestApp, id: string, who: TestUser) {
    const res = await app.api
      .get(`/api/video-calls/ice-servers/${id}`)
      .set('Authorization', who.auth);
    expect(res.status).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const relay = relayOf(res.body.iceServers);
    issued.push(relay.credential);
    return { relay, expiresAt: new Date(res.body.expiresAt) };
  }

  it('hands each participant a credential of their own, which the real coturn accepts', async () => {
    const { party, id } = await confirmedSession(t);
    const before = await issuedVia('rest');
    const client = await iceServersOf(t, id, party.client);
    const psychologist = await iceServersOf(t, id, party.psychologist);

    expect(client.relay.urls).toEqual([`${coturn.url}?transport=udp`]);
    expect(client.relay.username).toBe(`${client.expiresAt.getTime() / 1000}:${party.client.id}`);
    expect(psychologist.relay.username).toMatch(new RegExp(`^\\d+:${party.psychologist.id}$`));
    expect(psychologist.relay.credential).not.toBe(client.relay.credential);
    // The default lifetime covers the join window and the longest call.
    const ttl = (client.expiresAt.getTime() - Date.now()) / 1000;
    expect(Math.abs(ttl - (t.config.joinEarlyMinutes + t.config.maxCallMinutes) * 60)).toBeLessThan(
      60,
    );

    for (const { relay } of [client, psychologist]) {
      await expect(turnAllocate(coturn.port, relay.username, relay.credential)).resolves.toBe(200);
    }
    // And relays data between two allocations (turnutils_uclient, as the README checks a relay).
    await expect(coturn.allocate(client.relay.username, client.relay.credential)).resolves.toBe(
      true,
    );

    expect(await issuedVia('rest')).toBe(before + 2);
  });

  it('the join-room acknowledgement carries the same kind of credential', async () => {
    const { party, id } = await confirmedSession(t);
    const socket = await connectAs(t.url, party.client.token);
    try {
      const before = await issuedVia('join-room');
      const ack = await request(socket, 'join-room', { sessionId: id });
      expect(await issuedVia('join-room')).toBe(before + 1);
      expect(ack.ok).toBe(true);
      const relay = relayOf(ack.iceServers);
      issued.push(relay.credential);
      expect(relay.username).toMatch(new RegExp(`^\\d+:${party.client.id}$`));
      await expect(turnAllocate(coturn.port, relay.username, relay.credential)).resolves.toBe(200);
    } finally {
      socket.disconnect();
    }
  });

  it('coturn answers 401 to a tampered credential, and to one borrowed by another user', async () => {
    const { party, id } = await confirmedSession(t);
    const { relay } = await iceServersOf(t, id, party.client);
    const allocate = (username: string, password: string) =>
      turnAllocate(coturn.port, username, password);
    const flipped = `${relay.credential[0] === 'A' ? 'B' : 'A'}${relay.credential.slice(1)}`;
    await expect(allocate(relay.username, flipped)).resolves.toBe(401);
    const [expiry] = relay.username.split(':');
    await expect(allocate(`${expiry}:${party.psychologist.id}`, relay.credential)).resolves.toBe(
      401,
    );
    // Later expiry, same signature: the expiry is signed too.
    await expect(
      allocate(`${Number(expiry) + 3600}:${party.client.id}`, relay.credential),
    ).resolves.toBe(401);
    // turnutils_uclient, as the README's check runs it, fails too.
    await expect(coturn.allocate(relay.username, flipped)).resolves.toBe(false);
    // The untouched credential still works: the refusals were the tampering's.
    await expect(allocate(relay.username, relay.credential)).resolves.toBe(200);
  });

  it('a credential expires when TURN_CREDENTIAL_TTL_SECONDS says, and coturn then refuses it', async () => {
    const short = await startTestApp({
      env: {
        TURN_URLS: coturn.url,
        TURN_SECRET,
        TURN_CREDENTIAL_TTL_SECONDS: '3',
      },
    });
    try {
      const { party, id } = await confirmedSession(short);
      const { relay, expiresAt } = await iceServersOf(short, id, party.client);
      expect(Math.abs(expiresAt.getTime() - Date.now() - 3000)).toBeLessThan(1500);
      const allocate = () => turnAllocate(coturn.port, relay.username, relay.credential);
      await expect(allocate()).resolves.toBe(200);
      await sleep(Math.max(0, expiresAt.getTime() - Date.now()) + 1500);
      await expect(allocate()).resolves.toBe(401);
    } finally {
      await short.close();
    }
  });

  (chromiumAvailable() ? describe : describe.skip)('in Chromium', () => {
    let browser: Browser;

    beforeAll(async () => {
      browser = await launchChromium();
    }, BROWSER_TIMEOUT_MS);
    afterAll(() => browser?.close());

    it(
      'two /demo pages with ?relay=1 connect through the relay only',
      async () => {
        const { party, id } = await confirmedSession(t);
        const contexts: BrowserContext[] = [];
        const open = async (who: TestUser) => {
          const context = await browser.newContext({ viewport: { width: 1100, height: 800 } });
          contexts.push(context);
          const page = await context.newPage();
          // Keeps the page's peer connections reachable for getStats().
          await page.addInitScript(() => {
            const Native = RTCPeerConnection;
            const all: RTCPeerConnection[] = [];
            (globalThis as unknown as { peerConnections: RTCPeerConnection[] }).peerConnections =
              all;
            globalThis.RTCPeerConnection = class extends Native {
              constructor(config?: RTCConfiguration) {
                super(config);
                all.push(this);
              }
            };
          });
          await page.goto(`${t.url}/demo/?sessionId=${id}&relay=1#token=${who.token}`);
          return page;
        };
        try {
          const pages = [await open(party.client), await open(party.psychologist)];
          for (const page of pages) {
            await page.waitForFunction(
              () =>
                document.querySelector('[data-testid="connection"]')?.textContent === 'connected',
              undefined,
              { timeout: BROWSER_TIMEOUT_MS },
            );
          }
          for (const page of pages) {
            const pairs = await settledPairs(page);
            expect(pairs).toEqual([
              expect.objectContaining({
                policy: 'relay',
                state: 'succeeded',
                localType: 'relay',
                localUrl: expect.stringContaining(`:${coturn.port}`),
                remoteType: 'relay',
              }),
            ]);
          }
          await pages[0].screenshot({ path: screenshotPath('demo-relay-client') });
          // Each page used a relay credential in its own user's name (from the API).
          for (const [page, who] of [
            [pages[0], party.client],
            [pages[1], party.psychologist],
          ] as const) {
            const servers = await page.evaluate(
              () =>
                (
                  globalThis as unknown as { peerConnections: RTCPeerConnection[] }
                ).peerConnections[0].getConfiguration().iceServers,
            );
            const relay = relayOf((servers ?? []).map((s) => ({ ...s, urls: [s.urls].flat() })));
            expect(relay.username).toMatch(new RegExp(`^\\d+:${who.id}$`));
            issued.push(relay.credential);
          }
        } finally {
          await Promise.all(contexts.map((c) => c.close()));
        }
      },
      BROWSER_TIMEOUT_MS * 2,
    );
  });

  it('the API documents show placeholders, never a working credential', async () => {
    const openapi = (await t.api.get('/api/docs-json')).body;
    const asyncapi = (await t.api.get('/api/asyncapi.json')).body;
    const examples = [
      openapi.components.schemas.IceServerView.properties.credential.example,
      asyncapi.components.schemas.JoinRoomResult.examples[0].iceServers[0].credential,
    ];
    for (const example of examples) {
      expect(example).toEqual(expect.any(String));
      // base64 of a 20-byte HMAC-SHA1 is 28 characters ending in one '='.
      expect(example).not.toMatch(/^[A-Za-z0-9+/]{27}=$/);
    }
  });

  it('no credential it handed out is in its logs', () => {
    expect(issued.length).toBeGreaterThan(3);
    expect(logLines.length).toBeGreaterThan(0);
    const all = logLines.join('\n');
    for (const credential of issued) {
      expect(all).not.toContain(credential);
    }
  });
});
