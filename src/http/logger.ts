// pino, JSON, constant messages with data in fields. Secrets are redacted by the logger itself (a test proves it),
// so a careless `log.info({ headers })` cannot leak a token.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'headers.authorization', 'headers["proxy-authorization"]', 'headers.cookie',
  'req.headers.authorization', 'token', '*.token', 'password', '*.password', 'credential', '*.credential',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, redact: { paths: REDACT_PATHS, censor: '[REDACTED]' }, base: { service: 'kgate' } }, destination);
}
export type { Logger };
