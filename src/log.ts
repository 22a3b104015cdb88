import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * The process logger. Redaction is a safety net only: code never passes secrets to it
 * (Secret prints as ***), but a stray header object must not leak either.
 */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? process.env['REGAUTH_LOG_LEVEL'] ?? 'info',
      base: { service: 'regauth' },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: {
        paths: [
          'password',
          '*.password',
          'authorization',
          '*.authorization',
          'headers.authorization',
          'refresh_token',
          '*.refresh_token',
        ],
        censor: '***',
      },
    },
    options.destination ?? process.stdout,
  );
}
