import pino, { type Logger } from 'pino';

/** Root logger of a ku process: JSON to the given stream (stdout by default), secrets redacted. */
export function createLogger(component: string, opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      name: component,
      level: opts.level ?? 'info',
      base: { component, pid: process.pid },
      redact: { paths: ['token', '*.token', 'keyPem', '*.keyPem', 'key', 'secret', '*.secret'], censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    (opts.destination ?? process.stdout) as pino.DestinationStream,
  );
}

/** A logger that drops everything (tests, quiet embedding). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

export type { Logger };
