import { ConsoleLogger, Logger } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { isDatabaseUnavailable } from '../../database/postgres-errors.js';
import { DomainError } from './domain-error.js';
import { toErrorResponse } from './error-response.js';
import { toAck } from './ws-ack.js';

const coded = (code: string, message = 'x') => Object.assign(new Error(message), { code });
/** As TypeORM throws a failed statement: the driver's error inside. */
const viaTypeOrm = (driverError: Error) => new QueryFailedError('SELECT 1', [], driverError);

describe('isDatabaseUnavailable', () => {
  it.each([
    ['a refused connection', coded('ECONNREFUSED')],
    ['a refused connection, through TypeORM', viaTypeOrm(coded('ECONNREFUSED'))],
    ['a server shutting down', viaTypeOrm(coded('57P01', 'terminating connection'))],
    ['a connection exception (class 08)', coded('08006')],
    ['the statement bound of the server', viaTypeOrm(coded('57014', 'canceling statement'))],
    ['the read bound of the client', new Error('Query read timeout')],
    ['the connect bound', new Error('Connection terminated due to connection timeout')],
    ['no free pooled connection in time', new Error('timeout exceeded when trying to connect')],
    ['a cut connection', new Error('Connection terminated unexpectedly')],
    ['a client closed after its bound', new Error('Client was closed and is not queryable')],
    ['every address refused', new AggregateError([coded('ECONNREFUSED'), coded('EHOSTUNREACH')])],
  ])('is true for %s', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(true);
  });

  it.each([
    ['a refused statement', viaTypeOrm(coded('23505', 'duplicate key'))],
    ['a bug', new TypeError('x is undefined')],
    ['a domain error', new DomainError('NOT_FOUND', 'no such session')],
    [
      'one address refused, another failing otherwise',
      new AggregateError([coded('ECONNREFUSED'), new Error('x')]),
    ],
    ['nothing', undefined],
  ])('is false for %s', (_, error) => {
    expect(isDatabaseUnavailable(error)).toBe(false);
  });
});

describe('an unreachable database on the transports', () => {
  beforeAll(() => Logger.overrideLogger(false));
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  it('is 503 UNAVAILABLE on REST, not logged as unexpected', () => {
    expect(toErrorResponse(viaTypeOrm(coded('ECONNREFUSED')))).toEqual({
      status: 503,
      body: {
        statusCode: 503,
        error: 'Service Unavailable',
        code: 'UNAVAILABLE',
        message: expect.any(String),
      },
      unexpected: false,
    });
    expect(toErrorResponse(new Error('boom'))).toMatchObject({ status: 500, unexpected: true });
  });

  it('is UNAVAILABLE in an acknowledgement', async () => {
    await expect(toAck(() => Promise.reject(new Error('Query read timeout')))).resolves.toEqual({
      ok: false,
      error: { code: 'UNAVAILABLE', message: expect.any(String) },
    });
    await expect(toAck(() => Promise.reject(new Error('boom')))).resolves.toEqual({
      ok: false,
      error: { code: 'INTERNAL', message: 'Internal server error' },
    });
  });
});
