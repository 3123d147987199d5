import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * One JSON logger per process; services derive children with `service` and `correlationId` bindings. Logs go to
 * stdout unless a destination is given (`npm start` splits them between a quiet console and a file).
 */
export function createLogger(level: string, service: string, destination?: DestinationStream): Logger {
  const options = { level, base: { service }, redact: ['req.headers.authorization', '*.password', '*.token'] };
  return destination ? pino(options, destination) : pino(options);
}
