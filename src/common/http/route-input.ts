import type { ArgumentMetadata, ExecutionContext, PipeTransform } from '@nestjs/common';
import { PARAMTYPES_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { FastifyRequest } from 'fastify';

interface RouteArg {
  index: number;
  data?: string;
  pipes?: unknown[];
}

const SOURCES = {
  [RouteParamtypes.PARAM]: 'param',
  [RouteParamtypes.BODY]: 'body',
  [RouteParamtypes.QUERY]: 'query',
} as const;
type Source = (typeof SOURCES)[keyof typeof SOURCES];
const ORDER: Source[] = ['param', 'query', 'body'];

function sourceOf(key: string): Source | undefined {
  return SOURCES[Number(key.split(':')[0]) as keyof typeof SOURCES];
}

interface RouteInputs {
  inputs: { source: Source; arg: RouteArg }[];
  types: ArgumentMetadata['metatype'][];
}

/** A handler's validated arguments, in the contract's order; read once per handler. */
const plans = new WeakMap<object, RouteInputs>();

function routeInputsOf(context: ExecutionContext): RouteInputs {
  const handler = context.getHandler();
  let plan = plans.get(handler);
  if (!plan) {
    const controller = context.getClass();
    const method = handler.name;
    const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, method) ?? {}) as Record<
      string,
      RouteArg
    >;
    const types = (Reflect.getMetadata(
      PARAMTYPES_METADATA,
      controller.prototype as object,
      method,
    ) ?? []) as ArgumentMetadata['metatype'][];
    const inputs = Object.entries(args)
      .map(([key, arg]) => ({ source: sourceOf(key), arg }))
      .filter((x): x is { source: Source; arg: RouteArg } => x.source !== undefined)
      .sort(
        (a, b) => ORDER.indexOf(a.source) - ORDER.indexOf(b.source) || a.arg.index - b.arg.index,
      );
    plan = { inputs, types };
    plans.set(handler, plan);
  }
  return plan;
}

/**
 * Runs the route's path, query and body validation (`validation`, the global pipe, then each
 * argument's own pipes) ahead of Nest's pipes, which run only after the guards. A guard that
 * looks a session up calls this first, so that malformed input is a 400 before any 404 or 403
 * (the contract's order). The results are discarded: the pipes validate again for the handler.
 */
export async function assertRouteInput(
  context: ExecutionContext,
  validation: PipeTransform,
): Promise<void> {
  const { inputs, types } = routeInputsOf(context);
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  for (const { source, arg } of inputs) {
    const whole: unknown =
      source === 'body' ? request.body : source === 'query' ? request.query : request.params;
    const values = whole as Record<string, unknown> | undefined;
    let value: unknown = arg.data ? values?.[arg.data] : whole;
    const metadata: ArgumentMetadata = { type: source, metatype: types[arg.index], data: arg.data };
    value = await validation.transform(value, metadata);
    for (const pipe of arg.pipes ?? []) {
      if (typeof (pipe as PipeTransform).transform === 'function') {
        value = await (pipe as PipeTransform).transform(value, metadata);
      }
    }
  }
}
