import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface ComposeService {
  image?: string;
  build?: unknown;
  environment?: Record<string, string>;
  healthcheck?: { test: unknown };
  volumes?: string[];
  ports?: string[];
}

/** No container engine runs here: what can be checked of the deployment files is checked. */
describe('deployment files', () => {
  const compose = parse(read('docker-compose.yml'), { merge: true }) as {
    services: Record<string, ComposeService>;
  };
  const services = compose.services;

  it('compose runs PostgreSQL, Redis, two app replicas, a load balancer and a TURN relay, each with a health check', () => {
    expect(Object.keys(services).sort()).toEqual([
      'app1',
      'app2',
      'coturn',
      'lb',
      'postgres',
      'redis',
    ]);
    for (const [name, service] of Object.entries(services)) {
      expect([name, service.healthcheck?.test]).toEqual([name, expect.anything()]);
    }
    for (const app of [services.app1, services.app2]) {
      expect(app.build).toBeDefined();
      expect(app.environment).toMatchObject({
        NODE_ENV: 'production',
        DATABASE_URL: expect.stringContaining('@postgres:5432/'),
        REDIS_URL: 'redis://redis:6379',
      });
    }
    expect(services.lb.volumes).toContain('./deploy/nginx.conf:/etc/nginx/nginx.conf:ro');
  });

  it('the relay checks the credentials the apps issue, with the same secret', () => {
    const coturn = services.coturn as ComposeService & { command: string[] };
    expect(coturn.command).toContain('--use-auth-secret');
    expect(coturn.command).toContain('--static-auth-secret=${TURN_SECRET:?set TURN_SECRET}');
    for (const app of [services.app1, services.app2]) {
      expect(app.environment).toMatchObject({
        TURN_URLS: expect.stringMatching(/^\$\{TURN_URLS:-turn:/),
        TURN_SECRET: expect.stringMatching(/^\$\{TURN_SECRET:\?/),
      });
    }
    expect(coturn.ports).toEqual(
      expect.arrayContaining(['3478:3478/udp', '3478:3478/tcp', '5349:5349/tcp']),
    );
  });

  it('the README names only services that exist', () => {
    const readme = read('README.md');
    const start = readme.indexOf('## Running several instances');
    const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
    const named = [...section.matchAll(/`(app1|app2|lb|postgres|redis|[a-z0-9-]+)` service/g)].map(
      (m) => m[1],
    );
    expect(named.length).toBeGreaterThan(0);
    for (const name of named) {
      expect(Object.keys(services)).toContain(name);
    }
  });

  it('the image runs the service as `npm run start:prod` does, with the same Node.js flags', () => {
    const startProd = (JSON.parse(read('package.json')) as { scripts: Record<string, string> })
      .scripts['start:prod'];
    const cmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile'));
    expect(cmd).not.toBeNull();
    const image = JSON.parse(cmd![1]) as string[];
    // `node <flags> dist/src/main` against `node <flags> dist/src/main.js`.
    expect(image.join(' ')).toBe(`${startProd}.js`);
    expect(image.some((arg) => arg.startsWith('--max-semi-space-size='))).toBe(true);
    expect(image).toContain('--no-memory-reducer');
    expect(image.some((arg) => arg.startsWith('--heap-growing-percent='))).toBe(true);
    expect(image).toContain('--no-allocation-site-pretenuring');
  });

  it('the nginx configuration proxies both app replicas, /api and the WebSocket upgrade', () => {
    const conf = read('deploy/nginx.conf');
    expect(conf).toMatch(/server app1:3000/);
    expect(conf).toMatch(/server app2:3000/);
    expect(conf).toMatch(/location \/api\//);
    expect(conf).toMatch(/location \/socket\.io\/[\s\S]*proxy_set_header Upgrade \$http_upgrade/);
  });

  const nginx = (() => {
    try {
      execFileSync('nginx', ['-v'], { stdio: 'ignore' });
      return true;
    } catch {
      process.stdout.write('nginx -t skipped: nginx is not installed on this machine\n');
      return false;
    }
  })();

  (nginx ? it : it.skip)(
    'the nginx configuration passes nginx -t (service names resolved to loopback)',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'svapi-nginx-'));
      const conf = read('deploy/nginx.conf')
        .replace(/\bapp1:3000\b/, '127.0.0.1:3000')
        .replace(/\bapp2:3000\b/, '127.0.0.1:3001');
      writeFileSync(join(dir, 'nginx.conf'), conf);
      const out = execFileSync(
        'nginx',
        [
          '-t',
          '-p',
          dir,
          '-c',
          join(dir, 'nginx.conf'),
          '-g',
          `pid ${dir}/nginx.pid; error_log stderr;`,
        ],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      expect(out).toBe('');
    },
  );
});
