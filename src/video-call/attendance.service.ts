import { Injectable } from '@nestjs/common';
import { Sql } from '../database/sql.js';
import { summarizeAttendance } from '../sessions/session-policies.js';
import type { SessionRecord } from '../sessions/session-record.js';
import { SESSION_STAYS, type StayRow } from './attendance.sql.js';
import type { AttendanceView } from './dto/attendance.views.js';

/** Who attended a session's call, from the presence rows kept after each stay. */
@Injectable()
export class AttendanceService {
  constructor(private readonly sql: Sql) {}

  /** One entry per party (client first), also for a party who never came. */
  async of(session: SessionRecord): Promise<AttendanceView[]> {
    const rows = await this.sql.rows<StayRow>(SESSION_STAYS.name, SESSION_STAYS.text, [session.id]);
    const now = rows[0]?.now ?? new Date();
    const parties = [
      { userId: session.clientId, role: 'client' as const },
      { userId: session.psychologistId, role: 'psychologist' as const },
    ];
    return parties.map(({ userId, role }) => {
      const summary = summarizeAttendance(
        rows
          .filter((r) => r.user_id === userId)
          .map((r) => ({ joinedAt: r.joined_at, leftAt: r.left_at })),
        now,
      );
      return {
        userId,
        role,
        firstJoinedAt: summary.firstJoinedAt?.toISOString() ?? null,
        lastLeftAt: summary.lastLeftAt?.toISOString() ?? null,
        secondsPresent: summary.secondsPresent,
        stays: summary.stays,
      };
    });
  }
}
