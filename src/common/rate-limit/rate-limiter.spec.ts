import { RateLimiter } from './rate-limiter.js';

describe('RateLimiter', () => {
  let clock = 0;
  const limiter = new RateLimiter(3, 1000, () => clock);
  afterAll(() => limiter.close());

  it('lets a burst of `capacity` through, then refuses with the wait until the next token', () => {
    clock = 0;
    expect([1, 2, 3].map(() => limiter.take('a').allowed)).toEqual([true, true, true]);
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterMs: 334 });
    expect(limiter.take('b').allowed).toBe(true); // keys are independent
  });

  it('refills at the steady rate', () => {
    clock += 334;
    expect(limiter.take('a').allowed).toBe(true);
    expect(limiter.take('a').allowed).toBe(false);
    clock += 1000;
    expect([1, 2, 3, 4].map(() => limiter.take('a').allowed)).toEqual([true, true, true, false]);
  });

  it('tells the wait for a token without taking one', () => {
    clock = 10_000;
    const failures = new RateLimiter(2, 1000, () => clock);
    expect(failures.waitMs('x')).toBe(0);
    failures.take('x');
    failures.take('x');
    expect(failures.waitMs('x')).toBe(500);
    expect(failures.waitMs('x')).toBe(500);
    clock += 500;
    expect(failures.waitMs('x')).toBe(0);
    expect(failures.take('x').allowed).toBe(true);
    failures.close();
  });

  it('forgets keys', () => {
    limiter.forget('a');
    expect(limiter.take('a').allowed).toBe(true);
  });
});
