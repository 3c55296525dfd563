const BEARER_PREFIX = /^bearer /i;

/**
 * The access token of a Socket.io handshake's `auth`: `{ token }`, bare or written as an
 * Authorization header value (`Bearer <token>`), which clients copying their REST header send.
 * Undefined when there is none.
 */
export function socketAuthToken(auth: unknown): string | undefined {
  const token: unknown = (auth as Record<string, unknown> | undefined)?.token;
  if (typeof token !== 'string') {
    return undefined;
  }
  const bare = token.replace(BEARER_PREFIX, '');
  return bare === '' ? undefined : bare;
}
