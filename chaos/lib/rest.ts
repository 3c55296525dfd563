import type { RestRecord } from './records.js';

export interface RestAnswer<T = any> {
  status: number;
  body: T;
  code?: string;
}

/**
 * REST through the load balancer, as a single-page app does it, with every answer recorded
 * (time, route, status, error code) for the checker. A request that gets no answer within the
 * timeout is recorded with status 0: a hung request is not a 5xx, but it is counted.
 */
export class Rest {
  readonly records: RestRecord[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 15_000,
  ) {}

  async call<T = any>(
    method: 'GET' | 'POST',
    path: string,
    options: { token?: string; body?: unknown; route?: string; record?: boolean } = {},
  ): Promise<RestAnswer<T>> {
    const started = Date.now();
    const record = (status: number, code?: string, fromNginx?: boolean) => {
      if (options.record !== false) {
        this.records.push({
          t: started,
          ms: Date.now() - started,
          method,
          route: options.route ?? path,
          status,
          ...(code ? { code } : {}),
          ...(fromNginx ? { fromNginx } : {}),
        });
      }
    };
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const code = (error as Error).name === 'TimeoutError' ? 'timeout' : 'network';
      record(0, code);
      return { status: 0, body: undefined as T, code };
    }
    const text = await res.text().catch(() => '');
    let body: any;
    let json = false;
    try {
      body = text ? JSON.parse(text) : undefined;
      json = true;
    } catch {
      body = text;
    }
    const code =
      res.status >= 400 && json && body && typeof body.code === 'string' ? body.code : undefined;
    record(res.status, code, res.status >= 500 && !json);
    return { status: res.status, body: body as T, code };
  }
}
