/** Socket.io room names, from one place. */
const SESSION_ROOM_PREFIX = 'session:';
const UUID_LENGTH = 36;

export const sessionRoom = (sessionId: string) => `${SESSION_ROOM_PREFIX}${sessionId}`;

/** The session of a `sessionRoom` name; undefined for any other room. */
export const sessionOfRoom = (room: string): string | undefined =>
  room.length === SESSION_ROOM_PREFIX.length + UUID_LENGTH && room.startsWith(SESSION_ROOM_PREFIX)
    ? room.slice(SESSION_ROOM_PREFIX.length)
    : undefined;

/**
 * Every socket of one user, in a room or not, from its connection on: what happens to the user's
 * sessions reaches all of them (a dashboard hears its sessions without joining their rooms). Named
 * by the user's id itself, the string the socket's user holds already: no name of its own per
 * socket. No other room can take that name: session rooms have a prefix, socket ids are shorter.
 */
export const userRoom = (userId: string) => userId;
