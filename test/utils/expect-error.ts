import type { Response } from 'supertest';

/** The contract's error body, with the given status and code. */
export function expectError(res: Response, status: number, code: string): void {
  expect({ status: res.status, code: res.body.code }).toEqual({ status, code });
  expect(res.body).toEqual(
    expect.objectContaining({
      statusCode: status,
      code,
      error: expect.any(String),
      message: expect.any(String),
    }),
  );
}
