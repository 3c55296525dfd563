import { Injectable } from '@nestjs/common';

/** Who is in which room. Until the gateway exists nobody is ever present. */
@Injectable()
export class PresenceService {
  /** userId -> start of the user's current stay, for the users present in the session's room. */
  currentStays(_sessionId: string): Promise<Map<string, Date>> {
    return Promise.resolve(new Map());
  }
}
