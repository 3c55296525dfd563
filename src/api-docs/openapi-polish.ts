import type { OpenAPIObject } from '@nestjs/swagger';
import { ErrorBodyView } from '../common/errors/api-errors.decorator.js';
import { RETRY_AFTER_SECONDS, UNAVAILABLE_MESSAGE } from '../common/errors/unavailable.js';

type SchemaLike = Record<string, unknown> & {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: unknown[];
  example?: unknown;
  items?: SchemaLike;
  properties?: Record<string, SchemaLike>;
  minimum?: number;
  default?: unknown;
};

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'] as const;

/**
 * Every operation of the document reads or writes the database, so every one can answer 503
 * UNAVAILABLE while it cannot be reached (an operation that never touches the database would be
 * left out here). Declared once here rather than on each route's ApiErrors.
 */
function unavailableResponse(errorBodyRef: string) {
  return {
    description: 'UNAVAILABLE: the database cannot be reached right now; retry after `Retry-After`',
    headers: {
      'Retry-After': {
        description: 'Seconds to wait before trying again',
        schema: { type: 'integer', example: RETRY_AFTER_SECONDS },
      },
    },
    content: {
      'application/json': {
        schema: { $ref: errorBodyRef },
        example: {
          statusCode: 503,
          error: 'Service Unavailable',
          code: 'UNAVAILABLE',
          message: UNAVAILABLE_MESSAGE,
        },
      },
    },
  };
}

/**
 * Examples for properties that carry none of their own, by property name: one vocabulary for the
 * whole document, so an integrator sees one coherent booking across operations.
 */
const EXAMPLES_BY_NAME: Record<string, unknown> = {
  id: '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f',
  sessionId: '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f',
  clientId: '0b9e6a52-4f1d-4c3e-9a8b-7c6d5e4f3a2b',
  psychologistId: 'c4d5e6f7-1a2b-4c3d-8e9f-0a1b2c3d4e5f',
  userId: '0b9e6a52-4f1d-4c3e-9a8b-7c6d5e4f3a2b',
  actorId: 'c4d5e6f7-1a2b-4c3d-8e9f-0a1b2c3d4e5f',
  email: 'ana@example.com',
  name: 'Ana Ramos',
  accessToken: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIwYjllNmE1MiJ9.c2lnbmF0dXJl',
  refreshToken: 'rt_5pZq0m3XrV8bN2cK7wY4tH9fJ1sL6dA0',
  scheduledStart: '2026-12-01T09:00:00.000Z',
  videoCallStarted: '2026-12-01T09:01:12.000Z',
  videoCallEnded: '2026-12-01T09:51:40.000Z',
  createdAt: '2026-11-20T14:03:09.000Z',
  updatedAt: '2026-12-01T09:51:40.000Z',
  joinedAt: '2026-12-01T09:00:58.000Z',
  at: '2026-12-01T09:01:12.000Z',
  duration: 50,
  callSeconds: 3028,
  reason: 'Rescheduling after a conflict',
  url: 'https://hooks.example.com/session-video',
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  present: true,
};

const EXAMPLES_BY_FORMAT: Record<string, unknown> = {
  uuid: '3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f',
  'date-time': '2026-12-01T09:00:00.000Z',
  email: 'ana@example.com',
  uri: 'https://example.com',
};

function exampleFor(name: string, schema: SchemaLike): unknown {
  if (name in EXAMPLES_BY_NAME) {
    return EXAMPLES_BY_NAME[name];
  }
  if (schema.enum?.length) {
    return schema.enum[0];
  }
  if (schema.default !== undefined) {
    return schema.default;
  }
  if (schema.format && schema.format in EXAMPLES_BY_FORMAT) {
    return EXAMPLES_BY_FORMAT[schema.format];
  }
  if (schema.type === 'integer' || schema.type === 'number') {
    return schema.minimum ?? 1;
  }
  if (schema.type === 'boolean') {
    return true;
  }
  return schema.type === 'string' ? 'text' : undefined;
}

/** Gives every property of every schema an example (its own, or one from the vocabulary). */
function addExamples(schema: SchemaLike): void {
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    // References (also nullable ones, `allOf: [$ref]`) get their examples in their own schema.
    if (property.$ref || property.allOf || property.oneOf || property.example !== undefined) {
      continue;
    }
    if (property.type === 'array' && property.items) {
      if (property.items.properties) {
        addExamples(property.items);
        continue;
      }
      if (property.items.$ref) {
        continue;
      }
      const item = exampleFor(name, property.items);
      if (item !== undefined) {
        property.example = [item];
      }
      continue;
    }
    if (property.properties) {
      addExamples(property);
      continue;
    }
    const example = exampleFor(name, property);
    if (example !== undefined) {
      property.example = example;
    }
  }
}

/**
 * What Nest's generator leaves out and generators and linters (`redocly lint
 * --extends=recommended`) expect: a server, a license, explicit security on every operation
 * (bearer by default, `[]` on the public ones), and examples on schemas and path parameters;
 * and the 503 UNAVAILABLE that every operation may answer.
 */
export function polishOpenApi(document: OpenAPIObject, bearerScheme = 'bearer'): OpenAPIObject {
  document.servers = [{ url: '/', description: 'This deployment' }];
  document.info.license ??= { name: 'MIT', url: 'https://opensource.org/licenses/MIT' };
  document.security = [{ [bearerScheme]: [] }];
  for (const item of Object.values(document.paths)) {
    for (const method of HTTP_METHODS) {
      const operation = item[method];
      if (!operation) {
        continue;
      }
      // Operations documented with @ApiBearerAuth carry security; the others are @Public().
      operation.security ??= [];
      operation.responses['503'] ??= unavailableResponse(
        `#/components/schemas/${ErrorBodyView.name}`,
      );
      for (const parameter of operation.parameters ?? []) {
        if ('$ref' in parameter || parameter.example !== undefined || !parameter.schema) {
          continue;
        }
        const example = exampleFor(parameter.name, parameter.schema as SchemaLike);
        if (example !== undefined) {
          parameter.example = example;
        }
      }
    }
  }
  for (const schema of Object.values(document.components?.schemas ?? {})) {
    addExamples(schema as SchemaLike);
  }
  return document;
}
