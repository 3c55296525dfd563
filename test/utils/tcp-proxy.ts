import { connect, createServer, type Server, type Socket } from 'node:net';

/** One client connection and its upstream leg. */
interface Link {
  client: Socket;
  upstream?: Socket;
  /** Bytes that arrived while black-holed, per direction, delivered in order on restore. */
  held: { toUpstream: Buffer[]; toClient: Buffer[] };
  /** A side closed while black-holed: the other side learns it on restore, as over TCP. */
  closedWhileHeld: boolean;
}

/**
 * A loopback TCP proxy in the test process, in front of a server (PostgreSQL here), that can
 * black-hole the path: `blackhole()` stops forwarding in both directions and keeps accepting new
 * connections without ever answering them, all of them left open - what a client sees of a host
 * whose packets are silently dropped (no reset, no refusal, only silence). `restore()` delivers
 * what was held, in order, as TCP's retransmissions would once the path heals; a connection
 * either side gave up on meanwhile is closed then.
 */
export class TcpProxy {
  private readonly links = new Set<Link>();
  private blackholed = false;

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {
    server.on('connection', (client) => this.accept(client));
  }

  /** Listens on a free loopback port and forwards to `target`. */
  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    return new TcpProxy(server, target);
  }

  /** `url` (e.g. a `postgres://` URL of the target) with the proxy's host and port instead. */
  static rewrite(url: string, proxy: TcpProxy): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(proxy.port);
    return u.toString();
  }

  get port(): number {
    const address = this.server.address();
    if (typeof address !== 'object' || !address) {
      throw new Error('the proxy is not listening');
    }
    return address.port;
  }

  /** Open client connections, held ones included. */
  get connections(): number {
    return this.links.size;
  }

  blackhole(): void {
    this.blackholed = true;
  }

  restore(): void {
    this.blackholed = false;
    for (const link of [...this.links]) {
      if (link.closedWhileHeld) {
        this.drop(link);
        continue;
      }
      if (!link.upstream) {
        this.connectUpstream(link);
      }
      this.flush(link);
    }
  }

  async close(): Promise<void> {
    for (const link of [...this.links]) {
      this.drop(link);
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const link: Link = {
      client,
      held: { toUpstream: [], toClient: [] },
      closedWhileHeld: false,
    };
    this.links.add(link);
    client.on('data', (chunk: Buffer) => this.forward(link, chunk, 'toUpstream'));
    client.on('error', () => undefined);
    client.on('close', () => this.closed(link));
    // A connection that arrives while black-holed is accepted and left unanswered: nothing
    // reaches the target until restore().
    if (!this.blackholed) {
      this.connectUpstream(link);
    }
  }

  private connectUpstream(link: Link): void {
    const upstream = connect(this.target);
    link.upstream = upstream;
    upstream.on('data', (chunk: Buffer) => this.forward(link, chunk, 'toClient'));
    upstream.on('error', () => undefined);
    upstream.on('close', () => this.closed(link));
    this.flush(link);
  }

  private forward(link: Link, chunk: Buffer, direction: 'toUpstream' | 'toClient'): void {
    const to = direction === 'toUpstream' ? link.upstream : link.client;
    if (this.blackholed || !to || link.held[direction].length > 0) {
      link.held[direction].push(chunk);
      return;
    }
    to.write(chunk);
  }

  private flush(link: Link): void {
    if (this.blackholed) {
      return;
    }
    const { upstream, client, held } = link;
    if (upstream) {
      for (const chunk of held.toUpstream.splice(0)) {
        upstream.write(chunk);
      }
    }
    for (const chunk of held.toClient.splice(0)) {
      client.write(chunk);
    }
  }

  private closed(link: Link): void {
    if (this.blackholed) {
      link.closedWhileHeld = true;
      return;
    }
    this.drop(link);
  }

  private drop(link: Link): void {
    this.links.delete(link);
    link.client.destroy();
    link.upstream?.destroy();
  }
}
