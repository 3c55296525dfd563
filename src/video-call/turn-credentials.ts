import { createHmac } from 'node:crypto';

/**
 * Short-lived TURN credentials in the form of the TURN REST API (draft-uberti-behave-turn-rest),
 * which coturn checks with `use-auth-secret`: the username names its own expiry and user, the
 * password is the username signed with the shared secret. coturn needs no call to this service;
 * a leaked credential is useless after its expiry, and is traceable to one user. Pure.
 */

/** One entry of `RTCConfiguration.iceServers`. */
export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface IceServerSet {
  iceServers: IceServer[];
  expiresAt: Date;
}

export interface IceServerSettings {
  stunUrls: readonly string[];
  turn: { urls: readonly string[]; secret: string } | undefined;
  credentialTtlSeconds: number;
}

/** `<expiry unix seconds>:<userId>`: coturn refuses the username once that second has passed. */
export function turnUsername(expiresAt: Date, userId: string): string {
  return `${Math.floor(expiresAt.getTime() / 1000)}:${userId}`;
}

/** base64(HMAC-SHA1(secret, username)): the long-term password coturn derives the same way. */
export function turnCredential(secret: string, username: string): string {
  return createHmac('sha1', secret).update(username).digest('base64');
}

/** The ICE servers a user may use from `now`: STUN as configured, TURN with their own credential. */
export function iceServersFor(
  settings: IceServerSettings,
  userId: string,
  now: Date,
): IceServerSet {
  const expiresAt = new Date(
    (Math.floor(now.getTime() / 1000) + settings.credentialTtlSeconds) * 1000,
  );
  const iceServers: IceServer[] = [];
  if (settings.stunUrls.length > 0) {
    iceServers.push({ urls: [...settings.stunUrls] });
  }
  if (settings.turn) {
    const username = turnUsername(expiresAt, userId);
    iceServers.push({
      urls: [...settings.turn.urls],
      username,
      credential: turnCredential(settings.turn.secret, username),
    });
  }
  return { iceServers, expiresAt };
}
