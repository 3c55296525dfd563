import { loadConfig } from './app-config.js';
import { oneProblem, problemsOf, SECRET } from '../../test/utils/config-problems.js';

describe('loadConfig', () => {
  it('has the documented defaults with an empty environment', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      nodeEnv: 'development',
      port: 3000,
      host: '127.0.0.1',
      databaseUrl: undefined,
      dataDir: './.data',
      redisUrl: undefined,
      logLevel: 'info',
      jwt: {
        secret: undefined,
        expiresInSeconds: 3600,
        refreshTokenDays: 30,
        issuer: 'session-video-api',
        audience: 'session-video-clients',
      },
      admin: undefined,
      emptyRoomTimeoutSeconds: 60,
      presenceHeartbeatSeconds: 5,
      authRateLimit: 20,
      wsRateLimit: 50,
      wsConnectRateLimit: 60,
      corsOrigins: true,
      joinEarlyMinutes: 15,
      maxCallMinutes: 240,
      noShowAfterMinutes: 15,
      webhookAllowPrivate: false,
      webhookRetentionDays: 30,
      trustProxy: false,
      metrics: { enabled: true, token: undefined },
      stunUrls: [],
      turn: undefined,
      turnCredentialTtlSeconds: (15 + 240) * 60,
      slotStepMinutes: 15,
      bookingMinNoticeMinutes: 60,
    });
  });

  it('binds to loopback unless in production, where it listens on every interface', () => {
    expect(loadConfig({}).host).toBe('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'test' }).host).toBe('127.0.0.1');
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET }).host).toBe('0.0.0.0');
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET, HOST: '10.0.0.5' }).host).toBe(
      '10.0.0.5',
    );
    expect(loadConfig({ HOST: '0.0.0.0' }).host).toBe('0.0.0.0');
  });

  it('treats blank values as unset', () => {
    const config = loadConfig({ PORT: '  ', JWT_SECRET: '', DATABASE_URL: ' ', ADMIN_EMAIL: '' });
    expect(config.port).toBe(3000);
    expect(config.jwt.secret).toBeUndefined();
    expect(config.databaseUrl).toBeUndefined();
    expect(config.admin).toBeUndefined();
  });

  it('reads every variable it is given', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      HOST: '127.0.0.1',
      DATABASE_URL: 'postgres://u:p@db:5432/app',
      DATA_DIR: '/var/lib/app',
      REDIS_URL: 'rediss://cache:6380',
      JWT_SECRET: SECRET,
      JWT_EXPIRES_IN: '600',
      JWT_ISSUER: 'iss-x',
      JWT_AUDIENCE: 'aud-x',
      ADMIN_EMAIL: 'Boss@Example.com',
      ADMIN_PASSWORD: 'long-enough',
      EMPTY_ROOM_TIMEOUT_SECONDS: '30',
      PRESENCE_HEARTBEAT_SECONDS: '2',
      AUTH_RATE_LIMIT: '7',
      WS_RATE_LIMIT: '9',
      WS_CONNECT_RATE_LIMIT: '11',
      CORS_ORIGINS: 'https://a.example.com, http://localhost:5173',
      JOIN_EARLY_MINUTES: '0',
      MAX_CALL_MINUTES: '90',
      NO_SHOW_AFTER_MINUTES: '5',
      WEBHOOK_ALLOW_PRIVATE: 'yes',
      WEBHOOK_RETENTION_DAYS: '7',
      SLOT_STEP_MINUTES: '30',
      BOOKING_MIN_NOTICE_MINUTES: '0',
    });
    expect(config).toMatchObject({
      nodeEnv: 'production',
      port: 8080,
      host: '127.0.0.1',
      databaseUrl: 'postgres://u:p@db:5432/app',
      dataDir: '/var/lib/app',
      redisUrl: 'rediss://cache:6380',
      logLevel: 'info',
      jwt: { secret: SECRET, expiresInSeconds: 600, issuer: 'iss-x', audience: 'aud-x' },
      admin: { email: 'boss@example.com', password: 'long-enough' },
      emptyRoomTimeoutSeconds: 30,
      presenceHeartbeatSeconds: 2,
      authRateLimit: 7,
      wsRateLimit: 9,
      wsConnectRateLimit: 11,
      corsOrigins: ['https://a.example.com', 'http://localhost:5173'],
      joinEarlyMinutes: 0,
      maxCallMinutes: 90,
      noShowAfterMinutes: 5,
      webhookAllowPrivate: true,
      webhookRetentionDays: 7,
      slotStepMinutes: 30,
      bookingMinNoticeMinutes: 0,
    });
  });

  it('allows no origin by default in production and lowers the log level in tests', () => {
    expect(loadConfig({ NODE_ENV: 'production', JWT_SECRET: SECRET }).corsOrigins).toEqual([]);
    expect(loadConfig({ NODE_ENV: 'test' }).logLevel).toBe('warn');
  });

  it.each(['abc', '-1', '65536', '3000.5', '80 80', '0x50'])('refuses PORT=%j', (port) => {
    expect(oneProblem({ PORT: port }, 'PORT')).toContain(`"${port}"`);
  });

  it('accepts PORT 0 (an ephemeral port) and 65535', () => {
    expect(loadConfig({ PORT: '0' }).port).toBe(0);
    expect(loadConfig({ PORT: '65535' }).port).toBe(65535);
  });

  it.each([
    ['JWT_EXPIRES_IN', '0'],
    ['EMPTY_ROOM_TIMEOUT_SECONDS', 'soon'],
    ['PRESENCE_HEARTBEAT_SECONDS', '0'],
    ['AUTH_RATE_LIMIT', '-5'],
    ['WS_RATE_LIMIT', '1e3'],
    ['WS_CONNECT_RATE_LIMIT', '0'],
    ['WS_CONNECT_RATE_LIMIT', '100001'],
    ['MAX_CALL_MINUTES', '0'],
    ['NO_SHOW_AFTER_MINUTES', 'ten'],
    ['JOIN_EARLY_MINUTES', '99999'],
    ['WEBHOOK_RETENTION_DAYS', '0'],
    ['WEBHOOK_RETENTION_DAYS', '3651'],
    ['SLOT_STEP_MINUTES', '4'],
    ['SLOT_STEP_MINUTES', '61'],
    ['BOOKING_MIN_NOTICE_MINUTES', '-1'],
    ['BOOKING_MIN_NOTICE_MINUTES', '10081'],
  ])('refuses %s=%j', (name, value) => {
    oneProblem({ [name]: value }, name);
  });

  it('refuses a JWT_SECRET shorter than 32 bytes', () => {
    expect(oneProblem({ JWT_SECRET: 'x'.repeat(31) }, 'JWT_SECRET')).toMatch(/32 bytes/);
  });

  it('counts JWT_SECRET in bytes, not characters', () => {
    // 16 two-byte characters are 32 bytes.
    expect(loadConfig({ JWT_SECRET: 'é'.repeat(16) }).jwt.secret).toBe('é'.repeat(16));
    oneProblem({ JWT_SECRET: 'é'.repeat(15) }, 'JWT_SECRET');
  });

  it('never echoes the secret in the problem', () => {
    const short = 'short-secret-value';
    expect(oneProblem({ JWT_SECRET: short }, 'JWT_SECRET')).not.toContain(short);
  });

  it('requires JWT_SECRET when NODE_ENV=production, and only then', () => {
    expect(oneProblem({ NODE_ENV: 'production' }, 'JWT_SECRET')).toMatch(/production/);
    expect(loadConfig({ NODE_ENV: 'development' }).jwt.secret).toBeUndefined();
    expect(loadConfig({ NODE_ENV: 'test' }).jwt.secret).toBeUndefined();
  });

  it('reports a short JWT_SECRET in production once, as too short', () => {
    expect(oneProblem({ NODE_ENV: 'production', JWT_SECRET: 'short' }, 'JWT_SECRET')).toMatch(
      /32 bytes/,
    );
  });

  it('refuses an unknown NODE_ENV', () => {
    oneProblem({ NODE_ENV: 'staging' }, 'NODE_ENV');
  });

  it('refuses ADMIN_EMAIL without ADMIN_PASSWORD and the reverse', () => {
    const problem = oneProblem({ ADMIN_EMAIL: 'admin@example.com' }, 'ADMIN_PASSWORD');
    expect(problem).toContain('ADMIN_EMAIL');
    oneProblem({ ADMIN_PASSWORD: 'long-enough' }, 'ADMIN_EMAIL');
  });

  it('refuses an admin email that is not one, and a short admin password', () => {
    oneProblem({ ADMIN_EMAIL: 'not-an-email', ADMIN_PASSWORD: 'long-enough' }, 'ADMIN_EMAIL');
    expect(
      oneProblem({ ADMIN_EMAIL: 'a@example.com', ADMIN_PASSWORD: 'sEcr3t' }, 'ADMIN_PASSWORD'),
    ).not.toContain('sEcr3t');
  });

  it.each([
    'app.example.com',
    'https://app.example.com/',
    'https://app.example.com/path',
    'ftp://app.example.com',
    '*',
  ])('refuses the CORS origin %j', (origin) => {
    const problem = oneProblem(
      { CORS_ORIGINS: `https://ok.example.com,${origin}` },
      'CORS_ORIGINS',
    );
    expect(problem).toContain(`"${origin}"`);
  });

  it('reports each bad CORS origin on its own line', () => {
    const problems = problemsOf({ CORS_ORIGINS: 'nope, https://ok.example.com, also-nope' });
    expect(problems).toHaveLength(2);
    expect(problems[0]).toContain('"nope"');
    expect(problems[1]).toContain('"also-nope"');
  });

  it.each([
    ['DATABASE_URL', 'not a url'],
    ['DATABASE_URL', 'mysql://u:p@db/app'],
    ['DATABASE_URL', 'http://db:5432/app'],
    ['REDIS_URL', 'localhost:6379 x'],
    ['REDIS_URL', 'http://cache:6379'],
    ['REDIS_URL', 'postgres://cache:6379'],
  ])('refuses %s=%j', (name, value) => {
    oneProblem({ [name]: value }, name);
  });

  it('names the expected URL schemes and does not echo the URL (it may hold a password)', () => {
    const problem = oneProblem({ DATABASE_URL: 'mysql://user:hunter2@db/app' }, 'DATABASE_URL');
    expect(problem).toContain('postgres://');
    expect(problem).toContain('postgresql://');
    expect(problem).not.toContain('hunter2');
    expect(oneProblem({ REDIS_URL: 'http://cache' }, 'REDIS_URL')).toContain('redis://');
  });

  it('accepts postgresql:// and redis:// URLs', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgresql://localhost/app',
      REDIS_URL: 'redis://localhost:6379',
    });
    expect(config.databaseUrl).toBe('postgresql://localhost/app');
    expect(config.redisUrl).toBe('redis://localhost:6379');
  });

  it.each([
    ['true', true],
    ['TRUE', true],
    ['1', true],
    ['yes', true],
    ['false', false],
    ['0', false],
    ['No', false],
  ])('reads the boolean %j', (value, expected) => {
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE: value }).webhookAllowPrivate).toBe(expected);
  });

  it.each(['maybe', 'on?', '2'])('refuses the boolean %j', (value) => {
    expect(oneProblem({ WEBHOOK_ALLOW_PRIVATE: value }, 'WEBHOOK_ALLOW_PRIVATE')).toMatch(
      /true or false/,
    );
  });

  it('refuses an unknown LOG_LEVEL', () => {
    oneProblem({ LOG_LEVEL: 'loud' }, 'LOG_LEVEL');
  });

  it('reports every problem together, one line each', () => {
    const problems = problemsOf({
      NODE_ENV: 'production',
      PORT: 'eighty',
      ADMIN_EMAIL: 'admin@example.com',
      CORS_ORIGINS: 'example.com',
      DATABASE_URL: 'nope',
      REDIS_URL: 'http://cache',
      WEBHOOK_ALLOW_PRIVATE: 'perhaps',
    });
    const names = [
      'JWT_SECRET',
      'PORT',
      'ADMIN_PASSWORD',
      'CORS_ORIGINS',
      'DATABASE_URL',
      'REDIS_URL',
      'WEBHOOK_ALLOW_PRIVATE',
    ];
    expect(problems).toHaveLength(names.length);
    for (const name of names) {
      expect(problems.filter((p) => p.includes(name))).not.toHaveLength(0);
    }
    for (const problem of problems) {
      expect(problem).not.toContain('\n');
    }
  });
});
