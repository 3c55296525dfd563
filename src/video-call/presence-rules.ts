/**
 * The liveness rules of instances, as data: pure, shared by the code that beats and the SQL that
 * judges (statements take them as parameters).
 *
 * An instance signs itself alive every PRESENCE_HEARTBEAT_SECONDS. Silence alone proves nothing:
 * during a database outage nobody can beat. So an instance is dead when it has missed
 * DEAD_AFTER_BEATS of its beats AND the instance judging it beat without a break through at least
 * that long: the database was reachable all that time, and the silent one did not use it. A run of
 * beats breaks when two successive beats are more than BEAT_RUN_GAP_BEATS apart (an outage, or a
 * judge that was itself frozen or cut off), and a judge whose run is younger than DEAD_AFTER_BEATS
 * buries nobody. The other options were weaker: `pg_postmaster_start_time()` sees a database
 * restart but not a network outage, and a lease per instance still needs a judge that knows its
 * own clock of the database was running.
 *
 * As of when a buried instance stopped: its last heartbeat, when some live instance beat without a
 * break from then on (it watched the silence). When none did because they all lost their runs
 * after it (a database outage), the dead one may have lived through the outage with its sockets
 * and died in it, unable to say so: its stays then end when the first live instance's run began
 * again, so the people it held get the whole grace period to come back once they can. (A process
 * that merely started after it proves nothing either way: its run began, it did not break.)
 */
export const DEAD_AFTER_BEATS = 3;

/** Beats further apart than this many heartbeat periods break an instance's run. */
export const BEAT_RUN_GAP_BEATS = 2;

/** A failed beat is tried again this soon (ms), so a short outage costs no more than that. */
export const BEAT_RETRY_MS = 250;
