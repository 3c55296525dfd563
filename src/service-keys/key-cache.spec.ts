import { KeyCache } from './key-cache.js';

describe('KeyCache', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    now = 1_000_000;
  });

  it('keeps a verified key for the TTL and not a moment longer', () => {
    const cache = new KeyCache<{ id: string }>(5000, clock);
    cache.set('h1', { id: 'k1' });
    now += 4999;
    expect(cache.get('h1')).toEqual({ id: 'k1' });
    now += 1;
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('counts the TTL from the last time the key was read from the database', () => {
    const cache = new KeyCache<{ id: string }>(5000, clock);
    cache.set('h1', { id: 'k1' });
    now += 4000;
    cache.set('h1', { id: 'k1' });
    now += 4000;
    expect(cache.get('h1')).toEqual({ id: 'k1' });
  });

  it('forgets a revoked key at once, by id, and only that key', () => {
    const cache = new KeyCache<{ id: string }>(5000, clock);
    cache.set('h1', { id: 'k1' });
    cache.set('h2', { id: 'k2' });
    cache.evictId('k1');
    expect(cache.get('h1')).toBeUndefined();
    expect(cache.get('h2')).toEqual({ id: 'k2' });
  });

  it('stays within its bound: expired entries go first, then everything', () => {
    const cache = new KeyCache<{ id: string }>(5000, clock, 2);
    cache.set('h1', { id: 'k1' });
    now += 5000;
    cache.set('h2', { id: 'k2' });
    cache.set('h3', { id: 'k3' });
    expect(cache.size).toBe(2);
    expect(cache.get('h2')).toEqual({ id: 'k2' });
    cache.set('h4', { id: 'k4' });
    expect(cache.size).toBe(1);
    expect(cache.get('h4')).toEqual({ id: 'k4' });
  });
});
