import { Logger } from '@nestjs/common';
import type { MessageMappingProperties } from '@nestjs/websockets';
import { isObservable, type Observable } from 'rxjs';
import type { Socket } from 'socket.io';

const logger = new Logger('SocketMessages');

/**
 * Gateway handlers bound as plain socket listeners. Nest's IoAdapter builds, for every socket and
 * every handler, an RxJS pipeline (`fromEvent` -> `mergeMap` -> `takeUntil(disconnect$)`) that
 * lives as long as the socket: several kilobytes of heap per connection for five handlers. A
 * plain listener dies with its socket; the per-message work is the same (the handler's result
 * goes back through the acknowledgement, an `{event, data}` result is emitted). The video-call
 * gateway binds its listeners itself (see its afterInit); for a gateway without handlers this
 * costs nothing, where Nest's default still builds a `disconnect$` observable per socket.
 */
export function bindMessageHandlers(
  socket: Socket,
  handlers: MessageMappingProperties[],
  transform: (data: unknown) => Observable<unknown>,
): void {
  for (const { message, callback, isAckHandledManually } of handlers) {
    socket.on(message as string, (...args: unknown[]) => {
      const last = args[args.length - 1];
      const ack = typeof last === 'function' ? (last as (response: unknown) => void) : undefined;
      const payload = ack ? args.slice(0, -1) : args;
      const data = payload.length === 1 ? payload[0] : payload.length === 0 ? undefined : payload;
      let result: Observable<unknown>;
      try {
        result = transform(callback(data, ack));
      } catch (error) {
        logger.error(error);
        return;
      }
      if (!isObservable(result)) {
        return;
      }
      result.subscribe({
        next: (response) => {
          if (response === null || response === undefined) {
            return;
          }
          const emitted = response as { event?: string; data?: unknown };
          if (typeof emitted === 'object' && emitted.event) {
            socket.emit(emitted.event, emitted.data);
          } else if (!isAckHandledManually && ack) {
            ack(response);
          }
        },
        error: (error: unknown) => logger.error(error),
      });
    });
  }
}
