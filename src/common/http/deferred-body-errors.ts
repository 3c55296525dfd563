import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../errors/domain-error.js';

type BodyProblem = 'invalid-json' | 'unsupported-media-type';

const PROBLEM = Symbol('bodyProblem');

type RequestWithProblem = FastifyRequest & { [PROBLEM]?: BodyProblem };

/**
 * Body errors are answered after authentication, as the contract orders the checks (401 before
 * 400/415): Fastify parses a body before any Nest guard runs, so its parsers here do not fail.
 * They note what was wrong and `assertBodyParsed` (called by the access-token guard once the
 * caller is known) answers it. Fastify's own JSON parser still does the parsing (prototype
 * poisoning refused); a body over the size limit is still refused at once (413), before it is read.
 */
export function deferBodyErrors(fastify: FastifyInstance): void {
  const parseJson = fastify.getDefaultJsonParser('error', 'error');
  fastify.removeContentTypeParser(['application/json', 'text/plain']);
  fastify.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (request: RequestWithProblem, body, done) => {
      void parseJson(request, body as string, (error, parsed) => {
        if (error) {
          request[PROBLEM] = 'invalid-json';
          done(null, undefined);
        } else {
          done(null, parsed);
        }
      });
    },
  );
  // Any other media type: read (within the body limit) and refused once the caller is known.
  fastify.addContentTypeParser(
    '*',
    { parseAs: 'buffer' },
    (request: RequestWithProblem, _body, done) => {
      request[PROBLEM] = 'unsupported-media-type';
      done(null, undefined);
    },
  );
}

/** The body error noted at parsing, if any, as the API's error. */
export function assertBodyParsed(request: FastifyRequest): void {
  switch ((request as RequestWithProblem)[PROBLEM]) {
    case 'invalid-json':
      throw new DomainError('VALIDATION_FAILED', 'The request body is not valid JSON');
    case 'unsupported-media-type':
      throw new DomainError('UNSUPPORTED_MEDIA_TYPE', 'Request body must be application/json');
    case undefined:
      return;
  }
}
