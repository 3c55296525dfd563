import { randomUUID } from 'node:crypto';
import { plainToInstance } from 'class-transformer';
import {
  IsInt,
  IsString,
  IsUUID,
  Validate,
  ValidateNested,
  validate,
  ValidatorConstraint,
  type ValidatorConstraintInterface,
} from 'class-validator';
import fc from 'fast-check';
import {
  JoinRoomMessage,
  LeaveRoomMessage,
  RenewTokenMessage,
  SignalMessage,
} from '../../video-call/dto/room.messages.js';
import { compileMessageCheck } from './message-check.js';
import { parseMessage } from './ws-ack.js';

/** What the gateway accepted before the compiled check: class-transformer, then class-validator. */
async function acceptedInFull(type: new () => object, payload: object): Promise<boolean> {
  const errors = await validate(plainToInstance(type, payload), {
    whitelist: true,
    forbidNonWhitelisted: true,
  });
  return errors.length === 0;
}

const JWT = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg';

/** Values that pass one rule or another, and many that pass none. */
const anyValue = fc.oneof(
  fc.constantFrom(
    randomUUID(),
    randomUUID().toUpperCase(),
    '00000000-0000-0000-0000-000000000000',
    'not-a-uuid',
    'offer',
    'answer',
    'ice-candidate',
    'Offer',
    JWT,
    '',
    null,
    0,
    true,
  ),
  fc.uuid().map(String),
  fc.string(),
  fc.jsonValue(),
);

const MESSAGES = [
  [JoinRoomMessage, ['sessionId']],
  [LeaveRoomMessage, ['sessionId']],
  [SignalMessage, ['sessionId', 'to', 'type', 'data']],
  [RenewTokenMessage, ['token']],
] as const;

/** A value each field's rules accept, mostly. */
const likely: Record<string, fc.Arbitrary<unknown>> = {
  sessionId: fc.uuid(),
  to: fc.option(fc.uuid(), { nil: undefined }),
  type: fc.constantFrom('offer', 'answer', 'ice-candidate'),
  data: fc.jsonValue(),
  token: fc.constant(JWT),
};

/**
 * Payloads made of each class's own fields (any may be missing or wrong) and now and then a
 * stranger.
 */
function payloadsOf(fields: readonly string[]): fc.Arbitrary<Record<string, unknown>> {
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of fields) {
    record[f] = fc.oneof({ arbitrary: likely[f], weight: 6 }, { arbitrary: anyValue, weight: 1 });
  }
  return fc
    .tuple(
      fc.record(record, { requiredKeys: [] }),
      fc.option(fc.tuple(fc.constantFrom('extra', 'sessionID', 'Data'), anyValue), {
        freq: 5,
      }),
    )
    .map(([payload, extra]) => (extra ? { ...payload, [extra[0]]: extra[1] } : payload));
}

describe('compileMessageCheck', () => {
  it.each(MESSAGES)('accepts exactly what class-validator accepts (%p)', async (type, fields) => {
    const check = compileMessageCheck(type);
    expect(check).not.toBeNull();
    let accepted = 0;
    await fc.assert(
      fc.asyncProperty(payloadsOf(fields), async (payload) => {
        const full = await acceptedInFull(type, payload);
        expect(check!(payload)).toBe(full);
        accepted += full ? 1 : 0;
      }),
      { numRuns: 1500 },
    );
    // The generator reaches both answers.
    expect(accepted).toBeGreaterThan(10);
  });

  it('accepts a well-formed signal and refuses each broken field', () => {
    const check = compileMessageCheck(SignalMessage)!;
    const ok = { sessionId: randomUUID(), type: 'ice-candidate', data: { candidate: 'c' } };
    expect(check(ok)).toBe(true);
    expect(check({ ...ok, to: randomUUID() })).toBe(true);
    expect(check({ ...ok, to: null })).toBe(true);
    expect(check({ ...ok, to: 'someone' })).toBe(false);
    expect(check({ ...ok, sessionId: 'x' })).toBe(false);
    expect(check({ ...ok, type: 'bye' })).toBe(false);
    expect(check({ ...ok, data: null })).toBe(false);
    expect(check({ ...ok, extra: 1 })).toBe(false);
    expect(check({ sessionId: ok.sessionId, type: ok.type })).toBe(false);
  });

  it('gives no check for rules it does not run itself', () => {
    class Nested {
      @ValidateNested()
      inner: object;
    }
    class Each {
      @IsInt({ each: true })
      numbers: number[];
    }
    class Grouped {
      @IsString({ groups: ['a'] })
      name: string;
    }
    @ValidatorConstraint({ async: true })
    class Later implements ValidatorConstraintInterface {
      validate(): Promise<boolean> {
        return Promise.resolve(true);
      }
    }
    class Async {
      @Validate(Later)
      value: string;
    }
    class Bare {
      value: string;
    }
    for (const type of [Nested, Each, Grouped, Async, Bare]) {
      expect(compileMessageCheck(type)).toBeNull();
    }
    class Plain {
      @IsUUID()
      id: string;
    }
    expect(compileMessageCheck(Plain)).not.toBeNull();
  });
});

describe('parseMessage', () => {
  it('returns an accepted payload as it is, and reports a refused one in full', async () => {
    const payload = { sessionId: randomUUID(), type: 'offer', data: { sdp: 'v=0' } };
    await expect(parseMessage(SignalMessage, payload, ['data'])).resolves.toBe(payload);
    await expect(
      parseMessage(SignalMessage, { ...payload, type: 'bye', extra: 1 }, ['data']),
    ).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      details: expect.arrayContaining([
        { field: 'type', messages: [expect.stringContaining('type must be one of')] },
        { field: 'extra', messages: ['property extra should not exist'] },
      ]) as unknown,
    });
  });
});
