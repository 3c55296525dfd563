import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { hostOf, isPrivateAddress } from './address-policy.js';

export interface PostResult {
  /** null when no response arrived (connection refused, timeout, refused address, ...). */
  status: number | null;
  error: string | null;
}

const REFUSED = 'target resolves to a private or loopback address';

/** A DNS lookup that refuses private addresses: the address checked is the one connected to. */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, verbatim: true }, (error, address, family) => {
    if (error) {
      callback(error, address, family);
      return;
    }
    const list: LookupAddress[] = Array.isArray(address)
      ? address
      : [{ address: address, family: family ?? 4 }];
    if (list.length === 0 || list.some((a) => isPrivateAddress(a.address))) {
      callback(new Error(REFUSED), address, family);
      return;
    }
    callback(null, address, family);
  });
};

/**
 * One POST of a webhook: no redirect is followed (a 3xx is an answer like any other), the
 * resolved address is re-checked unless private targets are allowed, and the response body is
 * ignored.
 */
export function postWebhook(
  target: string,
  headers: Record<string, string>,
  body: string,
  options: { allowPrivate: boolean; timeoutMs: number; signal?: AbortSignal },
): Promise<PostResult> {
  let url: URL;
  try {
    url = new URL(target);
  } catch {
    return Promise.resolve({ status: null, error: 'invalid URL' });
  }
  const host = hostOf(url);
  if (!options.allowPrivate && isIP(host) && isPrivateAddress(host)) {
    return Promise.resolve({ status: null, error: REFUSED });
  }
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: PostResult) => {
      if (!settled) {
        settled = true;
        resolve(result);
      }
    };
    const req = client.request(
      url,
      {
        method: 'POST',
        agent: false,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'session-video-api-webhooks',
        },
        lookup: options.allowPrivate ? undefined : publicOnlyLookup,
        timeout: options.timeoutMs,
        signal: options.signal,
      },
      (res) => {
        res.resume();
        done({ status: res.statusCode ?? null, error: null });
        req.destroy();
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no response within ${options.timeoutMs} ms`)));
    req.on('error', (error) => done({ status: null, error: error.message }));
    req.end(body);
  });
}
