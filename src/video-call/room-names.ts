/** Socket.io room names, from one place. */
export const sessionRoom = (sessionId: string) => `session:${sessionId}`;

/** The sockets of one user inside one session's room (for signals addressed with `to`). */
export const sessionUserRoom = (sessionId: string, userId: string) =>
  `session:${sessionId}:user:${userId}`;
