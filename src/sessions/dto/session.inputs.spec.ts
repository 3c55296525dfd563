import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { BookSessionDto } from './session.inputs.js';

async function messagesFor(durationMinutes: unknown): Promise<string[]> {
  const dto = plainToInstance(BookSessionDto, {
    psychologistId: '5f0c2c1e-8a53-4a53-9d4f-2f6c1c7e2a11',
    scheduledStart: '2026-12-01T09:00:00Z',
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
