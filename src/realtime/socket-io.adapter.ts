import type { INestApplicationContext } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import type { Server, ServerOptions } from 'socket.io';
import type { AppConfig } from '../config/app-config.js';
import type { RedisFanout } from './redis-fanout.js';

/**
 * Socket.io as the product wants it: the Redis adapter when several instances share rooms,
 * WebSocket transport only (no sticky sessions needed behind a load balancer), the same allowed
 * origins as REST, and a 128 KiB frame limit: above the 64 KiB signal limit, so an oversized
 * signal up to twice that is answered with PAYLOAD_TOO_LARGE; anything larger drops the socket.
 */
export class SocketIoAdapter extends IoAdapter {
  constructor(
    app: INestApplicationContext,
    private readonly config: AppConfig,
    private readonly fanout: RedisFanout,
  ) {
    super(app);
  }

  /**
   * Nothing per socket: no gateway uses @SubscribeMessage (the video-call gateway binds its own
   * listeners), yet Nest's default keeps a `disconnect$` observable per socket in a WeakMap.
   */
  override bindMessageHandlers(): void {}

  /**
   * Nothing per socket. Nest's default registers, with `once`, an arrow around its own closure:
   * about 350 bytes a connection, plus a `disconnect` key that doubles the socket's listener
   * table. The gateway hears disconnects from the namespace adapter instead (see its afterInit),
   * so OnGatewayDisconnect is not available with this adapter.
   */
  override bindClientDisconnect(): void {}

  override createIOServer(port: number, options?: ServerOptions): Server {
    const origins = this.config.corsOrigins;
    const adapter = this.fanout.adapter();
    return super.createIOServer(port, {
      ...(adapter ? { adapter } : {}),
      ...options,
      transports: ['websocket'],
      maxHttpBufferSize: 128 * 1024,
      cors: { origin: origins === true ? true : origins },
      // Browsers send Origin; a handshake without one is a non-browser client and is accepted.
      allowRequest: (req, callback) => {
        const origin = req.headers.origin;
        callback(null, origin === undefined || origins === true || origins.includes(origin));
      },
    } as ServerOptions);
  }
}
