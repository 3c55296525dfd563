/**
 * The service's configuration: every environment variable of the product, parsed and validated
 * once at start-up. `loadConfig` is pure (it reads only the object it is given) so it can be
 * unit-tested; invalid input is reported as one line per problem in a ConfigError.
 */
export type NodeEnv = 'development' | 'production' | 'test';

export interface AppConfig {
  nodeEnv: NodeEnv;
  port: number;
  host: string;
  /** External PostgreSQL; undefined means the embedded server under `dataDir`. */
  databaseUrl: string | undefined;
  dataDir: string;
  redisUrl: string | undefined;
  logLevel: string;
  jwt: {
    /** Undefined in development/test until resolved from `dataDir` (see jwt-secret.ts). */
    secret: string | undefined;
    expiresInSeconds: number;
    refreshTokenDays: number;
    issuer: string;
    audience: string;
  };
  admin: { email: string; password: string } | undefined;
  emptyRoomTimeoutSeconds: number;
  presenceHeartbeatSeconds: number;
  authRateLimit: number;
  wsRateLimit: number;
  /** WebSocket handshakes allowed per client address per minute (per instance). */
  wsConnectRateLimit: number;
  /** `true` = any origin (development default), otherwise the exact allowed origins. */
  corsOrigins: true | string[];
  joinEarlyMinutes: number;
  maxCallMinutes: number;
  noShowAfterMinutes: number;
  webhookAllowPrivate: boolean;
  /** Webhook events (with their deliveries and attempts) are kept this many days, then purged. */
  webhookRetentionDays: number;
  /** Take the client address from X-Forwarded-For (set only behind a trusted load balancer). */
  trustProxy: boolean;
  /** `GET /metrics`: served unless disabled; `token` set = a bearer token of its own required. */
  metrics: { enabled: boolean; token: string | undefined };
  /** `stun:` URLs handed to every client; they carry no credential. */
  stunUrls: string[];
  /** The TURN relay (coturn `use-auth-secret`); undefined when TURN_URLS is unset. */
  turn: TurnConfig | undefined;
  /** Lifetime of issued TURN credentials; long enough to outlast the longest call. */
  turnCredentialTtlSeconds: number;
  /** The grid of start times a free-slot listing offers. */
  slotStepMinutes: number;
  /** No slot is offered closer than this to its start (bookings keep their own bounds). */
  bookingMinNoticeMinutes: number;
}

export interface TurnConfig {
  urls: string[];
  /** coturn's `static-auth-secret`: signs the per-user credentials (TURN REST API). */
  secret: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

class EnvReader {
  readonly problems: string[] = [];

  constructor(private readonly env: Env) {}

  raw(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const value = this.raw(name);
    if (value === undefined) {
      return fallback;
    }
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      this.problems.push(`${name} must be an integer from ${min} to ${max} (got "${value}")`);
      return fallback;
    }
    return Number(value);
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase();
    if (value === undefined) {
      return fallback;
    }
    if (['true', '1', 'yes'].includes(value)) {
      return true;
    }
    if (['false', '0', 'no'].includes(value)) {
      return false;
    }
    this.problems.push(`${name} must be true or false (got "${value}")`);
    return fallback;
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    if (value === undefined) {
      return fallback;
    }
    if (!(allowed as readonly string[]).includes(value)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${value}")`);
      return fallback;
    }
    return value as T;
  }

  url(name: string, protocols: string[]): string | undefined {
    const value = this.raw(name);
    if (value === undefined) {
      return undefined;
    }
    try {
      const parsed = new URL(value);
      if (!protocols.includes(parsed.protocol)) {
        this.problems.push(`${name} must be a ${protocols.map((p) => `${p}//`).join(' or ')} URL`);
      }
    } catch {
      this.problems.push(`${name} is not a valid URL`);
    }
    return value;
  }
}

/** A comma-separated list of URLs whose scheme is one of `schemes` (e.g. `turn:host:3478`). */
function urlList(r: EnvReader, name: string, schemes: string[]): string[] {
  const urls = (r.raw(name) ?? '')
    .split(',')
    .map((u) => u.trim())
    .filter((u) => u !== '');
  const pattern = new RegExp(`^(${schemes.join('|')}):[^\\s,]+$`);
  for (const url of urls) {
    if (!pattern.test(url)) {
      r.problems.push(
        `${name} entry "${url}" must be a ${schemes.map((s) => `${s}:`).join(' or ')} URL`,
      );
    }
  }
  return urls;
}

/** TURN_URLS with TURN_SECRET: a relay whose credentials only this service can mint. */
function readTurn(r: EnvReader): TurnConfig | undefined {
  const urls = urlList(r, 'TURN_URLS', ['turn', 'turns']);
  const secret = r.raw('TURN_SECRET');
  if (secret !== undefined && Buffer.byteLength(secret, 'utf8') < 32) {
    r.problems.push('TURN_SECRET must be at least 32 bytes long');
  }
  if (urls.length === 0) {
    return undefined;
  }
  // Without the secret no credential coturn accepts can be issued, in any environment.
  if (secret === undefined) {
    r.problems.push("TURN_SECRET (coturn's static-auth-secret) is required with TURN_URLS");
    return undefined;
  }
  return { urls, secret };
}

export function loadConfig(env: Env = process.env): AppConfig {
  const r = new EnvReader(env);
  const nodeEnv = r.oneOf<NodeEnv>(
    'NODE_ENV',
    ['development', 'production', 'test'],
    'development',
  );
  const production = nodeEnv === 'production';

  const secret = r.raw('JWT_SECRET');
  if (secret !== undefined && Buffer.byteLength(secret, 'utf8') < 32) {
    r.problems.push('JWT_SECRET must be at least 32 bytes long');
  }
  if (secret === undefined && production) {
    r.problems.push('JWT_SECRET is required when NODE_ENV=production');
  }

  const adminEmail = r.raw('ADMIN_EMAIL');
  const adminPassword = r.raw('ADMIN_PASSWORD');
  if ((adminEmail === undefined) !== (adminPassword === undefined)) {
    r.problems.push('ADMIN_EMAIL and ADMIN_PASSWORD must be set together');
  }
  if (adminEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(adminEmail)) {
    r.problems.push('ADMIN_EMAIL is not an email address');
  }
  if (adminPassword !== undefined && adminPassword.length < 8) {
    r.problems.push('ADMIN_PASSWORD must be at least 8 characters long');
  }

  const corsRaw = r.raw('CORS_ORIGINS');
  let corsOrigins: true | string[] = production ? [] : true;
  if (corsRaw !== undefined) {
    corsOrigins = corsRaw
      .split(',')
      .map((o) => o.trim())
      .filter((o) => o !== '');
    for (const origin of corsOrigins) {
      if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
        r.problems.push(
          `CORS_ORIGINS entry "${origin}" must be an origin like https://app.example.com`,
        );
      }
    }
  }

  const metricsToken = r.raw('METRICS_TOKEN');
  if (metricsToken !== undefined && metricsToken.length < 16) {
    r.problems.push('METRICS_TOKEN must be at least 16 characters long');
  }

  if (r.raw('ICE_SERVERS') !== undefined) {
    r.problems.push(
      'ICE_SERVERS is no longer read: set STUN_URLS for STUN servers, and TURN_URLS with TURN_SECRET for a relay with per-user credentials',
    );
  }
  const joinEarlyMinutes = r.int('JOIN_EARLY_MINUTES', 15, 0, 24 * 60);
  const maxCallMinutes = r.int('MAX_CALL_MINUTES', 240, 1, 24 * 60);

  const logLevel = r.oneOf('LOG_LEVEL', LOG_LEVELS, nodeEnv === 'test' ? 'warn' : 'info');

  const config: AppConfig = {
    nodeEnv,
    port: r.int('PORT', 3000, 0, 65535),
    // A development server has a generated key and every CORS origin open: not for the network.
    host: r.string('HOST', production ? '0.0.0.0' : '127.0.0.1'),
    databaseUrl: r.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    dataDir: r.string('DATA_DIR', './.data'),
    redisUrl: r.url('REDIS_URL', ['redis:', 'rediss:']),
    logLevel,
    jwt: {
      secret,
      expiresInSeconds: r.int('JWT_EXPIRES_IN', 3600, 5, 7 * 24 * 3600),
      refreshTokenDays: r.int('REFRESH_TOKEN_DAYS', 30, 1, 365),
      issuer: r.string('JWT_ISSUER', 'session-video-api'),
      audience: r.string('JWT_AUDIENCE', 'session-video-clients'),
    },
    admin:
      adminEmail !== undefined && adminPassword !== undefined
        ? { email: adminEmail.toLowerCase(), password: adminPassword }
        : undefined,
    emptyRoomTimeoutSeconds: r.int('EMPTY_ROOM_TIMEOUT_SECONDS', 60, 1, 24 * 3600),
    presenceHeartbeatSeconds: r.int('PRESENCE_HEARTBEAT_SECONDS', 5, 1, 300),
    authRateLimit: r.int('AUTH_RATE_LIMIT', 20, 1, 100_000),
    wsRateLimit: r.int('WS_RATE_LIMIT', 50, 1, 100_000),
    wsConnectRateLimit: r.int('WS_CONNECT_RATE_LIMIT', 60, 1, 100_000),
    corsOrigins,
    joinEarlyMinutes,
    maxCallMinutes,
    noShowAfterMinutes: r.int('NO_SHOW_AFTER_MINUTES', 15, 1, 24 * 60),
    webhookAllowPrivate: r.bool('WEBHOOK_ALLOW_PRIVATE', false),
    webhookRetentionDays: r.int('WEBHOOK_RETENTION_DAYS', 30, 1, 3650),
    trustProxy: r.bool('TRUST_PROXY', false),
    metrics: { enabled: r.bool('METRICS_ENABLED', true), token: metricsToken },
    stunUrls: urlList(r, 'STUN_URLS', ['stun', 'stuns']),
    turn: readTurn(r),
    // A participant who joins as the room opens keeps a working relay until the call cap ends it.
    turnCredentialTtlSeconds: r.int(
      'TURN_CREDENTIAL_TTL_SECONDS',
      (joinEarlyMinutes + maxCallMinutes) * 60,
      1,
      7 * 24 * 3600,
    ),
    slotStepMinutes: r.int('SLOT_STEP_MINUTES', 15, 5, 60),
    bookingMinNoticeMinutes: r.int('BOOKING_MIN_NOTICE_MINUTES', 60, 0, 7 * 24 * 60),
  };

  if (r.problems.length > 0) {
    throw new ConfigError(r.problems);
  }
  return config;
}
