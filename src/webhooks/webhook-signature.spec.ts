import { Webhook } from 'standardwebhooks';
import { MAX_ATTEMPTS, retryDelaySeconds } from './webhook-dispatcher.service.js';
import { newWebhookSecret, signWebhook } from './webhook-signature.js';

describe('webhook signatures', () => {
  it('makes secrets of whsec_ + base64 of 32 random bytes', () => {
    const a = newWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(a.slice(6), 'base64')).toHaveLength(32);
    expect(newWebhookSecret()).not.toBe(a);
  });

  it('signs exactly as the Standard Webhooks reference library does', () => {
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
    const timestamp = 1614265330;
    const body = '{"test": 2432232314}';
    const ours = signWebhook(secret, id, timestamp, body);
    expect(ours).toBe(new Webhook(secret).sign(id, new Date(timestamp * 1000), body));
    expect(ours).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });
});

describe('webhook retry schedule', () => {
  it('grows exponentially from 5 s, capped at 8 h, over about a day', () => {
    expect([1, 2, 3, 4].map(retryDelaySeconds)).toEqual([5, 15, 45, 135]);
    expect(retryDelaySeconds(20)).toBe(8 * 3600);
    let total = 0;
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) {
      total += retryDelaySeconds(attempt);
    }
    expect(total / 3600).toBeGreaterThan(18);
    expect(total / 3600).toBeLessThan(30);
  });
});
