import { Writable } from 'node:stream';
import { createRootLogger, NestPinoLogger } from './logger.js';

/** A NestPinoLogger at `level` and the messages it wrote. */
function capture(level: string): { logger: NestPinoLogger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: new NestPinoLogger(createRootLogger(level, sink)), lines };
}

describe('NestPinoLogger', () => {
  it("keeps Nest's start-up narration out of the default log and shows it at debug", () => {
    const narrate = (logger: NestPinoLogger) => {
      logger.log('Starting Nest application...', 'NestFactory');
      logger.log('AppModule dependencies initialized', 'InstanceLoader');
      logger.log('SessionsController {/api/sessions}:', 'RoutesResolver');
      logger.log('Mapped {/api/sessions, POST} route', 'RouterExplorer');
      logger.log('Nest application successfully started', 'NestApplication');
    };
    const atInfo = capture('info');
    narrate(atInfo.logger);
    expect(atInfo.lines).toEqual([]);

    const atDebug = capture('debug');
    narrate(atDebug.logger);
    expect(atDebug.lines.map((l) => l.context)).toEqual([
      'NestFactory',
      'InstanceLoader',
      'RoutesResolver',
      'RouterExplorer',
      'NestApplication',
    ]);
    expect(atDebug.lines.every((l) => l.level === 20)).toBe(true);
  });

  it("logs the application's own messages, and the framework's warnings, at their level", () => {
    const { logger, lines } = capture('info');
    logger.log('1 instance(s) stopped', 'PresenceService');
    logger.warn('something odd', 'RouterExplorer');
    expect(lines.map((l) => [l.level, l.context, l.msg])).toEqual([
      [30, 'PresenceService', '1 instance(s) stopped'],
      [40, 'RouterExplorer', 'something odd'],
    ]);
  });
});
