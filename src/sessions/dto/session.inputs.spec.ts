import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { BookSessionDto, RescheduleSessionDto } from './session.inputs.js';

async function messagesFor(durationMinutes: unknown): Promise<string[]> {
  const dto = plainToInstance(BookSessionDto, {
    psychologistId: '5f0c2c1e-8a53-4a53-9d4f-2f6c1c7e2a11',
    // Within the booking's bounds (checked with the body): a day from now.
    scheduledStart: new Date(Date.now() + 86_400_000).toISOString(),
    durationMinutes,
  });
  const errors = await validate(dto);
  return errors.flatMap((e) => Object.values(e.constraints ?? {}));
}

describe('BookSessionDto.durationMinutes', () => {
  it.each([15, 50, 180, undefined])('accepts %p', async (value) => {
    expect(await messagesFor(value)).toEqual([]);
  });

  it.each(['50', 14, 181, 50.5, true])('refuses %p with one message', async (value) => {
    expect(await messagesFor(value)).toEqual(['durationMinutes must be an integer from 15 to 180']);
  });
});

describe('scheduledStart (BookSessionDto, RescheduleSessionDto)', () => {
  const messagesOf = async (scheduledStart: unknown) => {
    const dto = plainToInstance(RescheduleSessionDto, { scheduledStart });
    const errors = await validate(dto);
    return errors.flatMap((e) => Object.values(e.constraints ?? {}));
  };
  const fromNow = (ms: number) => new Date(Date.now() + ms).toISOString();
  const DAY = 86_400_000;

  it.each([
    ['4 minutes ago', fromNow(-4 * 60_000)],
    ['a day ahead', fromNow(DAY)],
    ['364 days ahead', fromNow(364 * DAY)],
  ])('accepts %s', async (_label, value) => {
    expect(await messagesOf(value)).toEqual([]);
  });

  it.each([
    ['6 minutes ago', fromNow(-6 * 60_000)],
    ['367 days ahead', fromNow(367 * DAY)],
  ])('refuses %s with the bounds message only', async (_label, value) => {
    expect(await messagesOf(value)).toEqual([
      'scheduledStart must be from 5 minutes ago to a year ahead',
    ]);
  });

  it('leaves a text that is no date to the format checks', async () => {
    expect(await messagesOf('tomorrow')).not.toContain(
      'scheduledStart must be from 5 minutes ago to a year ahead',
    );
  });
});
