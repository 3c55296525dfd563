import { participantAudience, sessionAudience } from './live-events.service.js';
import { sessionOfRoom, sessionRoom, userRoom } from './room-names.js';

const SESSION = '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f';
const CLIENT = '6f1c2d4e-0000-4000-8000-000000000001';
const PSYCHOLOGIST = '6f1c2d4e-0000-4000-8000-000000000002';

describe('who hears the live events of a session', () => {
  it('status changes and updates: the room and both participants, wherever they are', () => {
    expect(sessionAudience(SESSION, CLIENT, PSYCHOLOGIST)).toEqual([
      sessionRoom(SESSION),
      userRoom(CLIENT),
      userRoom(PSYCHOLOGIST),
    ]);
  });

  it("arrivals and departures: the room and the other participant, never the participant's own sockets", () => {
    expect(
      participantAudience({ sessionId: SESSION, userId: CLIENT, otherUserId: PSYCHOLOGIST }),
    ).toEqual({ to: [sessionRoom(SESSION), userRoom(PSYCHOLOGIST)], except: userRoom(CLIENT) });
  });

  it("a user's room is no session's room (presence and metrics read session rooms only)", () => {
    expect(sessionOfRoom(userRoom(CLIENT))).toBeUndefined();
    expect(userRoom(CLIENT)).not.toBe(userRoom(PSYCHOLOGIST));
  });
});
