import { Global, Module } from '@nestjs/common';
import { RedisFanout } from './redis-fanout.js';

@Global()
@Module({ providers: [RedisFanout], exports: [RedisFanout] })
export class RealtimeModule {}
