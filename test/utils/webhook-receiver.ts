import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
  json: { id: string; type: string; timestamp: string; data: Record<string, any> };
  /** The status this request was answered with (null: left hanging). */
  answered: number | null;
}

/**
 * A local HTTP endpoint for webhook tests. `respond` decides each answer: a status, or 'hang' to
 * keep the request open (to kill the sender mid-delivery).
 */
export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Only the requests answered with 2xx. */
  accepted(): ReceivedWebhook[];
  respond: (req: ReceivedWebhook) => number | 'hang';
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const hanging = new Set<() => void>();
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    accepted: () => receiver.received.filter((r) => r.answered !== null && r.answered < 300),
    respond: () => 200,
    close: () =>
      new Promise<void>((resolve) => {
        hanging.forEach((end) => end());
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const entry: ReceivedWebhook = {
        headers: req.headers,
        body,
        json: JSON.parse(body),
        answered: null,
      };
      receiver.received.push(entry);
      const answer = receiver.respond(entry);
      if (answer === 'hang') {
        hanging.add(() => res.destroy());
        return;
      }
      entry.answered = answer;
      res.writeHead(answer, { 'content-type': 'text/plain' }).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  return receiver;
}
