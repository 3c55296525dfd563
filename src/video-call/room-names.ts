/** Socket.io room names, from one place. */
const SESSION_ROOM_PREFIX = 'session:';
const UUID_LENGTH = 36;

export const sessionRoom = (sessionId: string) => `${SESSION_ROOM_PREFIX}${sessionId}`;

/** The session of a `sessionRoom` name; undefined for any other room. */
export const sessionOfRoom = (room: string): string | undefined =>
  room.length === SESSION_ROOM_PREFIX.length + UUID_LENGTH && room.startsWith(SESSION_ROOM_PREFIX)
    ? room.slice(SESSION_ROOM_PREFIX.length)
    : undefined;

/** The sockets of one user inside one session's room (for signals addressed with `to`). */
export const sessionUserRoom = (sessionId: string, userId: string) =>
  `session:${sessionId}:user:${userId}`;

/**
 * Every socket of one user, in a room or not, from its connection on: what happens to the user's
 * sessions reaches all of them (a dashboard hears its sessions without joining their rooms).
 */
export const userRoom = (userId: string) => `user:${userId}`;
