import pino, { type Logger } from 'pino';

export type { Logger };

/** One JSON logger per process; services derive children with `service` and `correlationId` bindings. */
export function createLogger(level: string, service: string): Logger {
  return pino({ level, base: { service }, redact: ['req.headers.authorization', '*.password', '*.token'] });
}
