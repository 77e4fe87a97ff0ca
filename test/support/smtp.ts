import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** The envelope recipients (RCPT TO). */
  to: string[];
  parsed: ParsedMail;
}

export interface TestSmtpServer {
  /** `smtp://127.0.0.1:<port>` (no TLS, no auth) for SMTP_URL. */
  url: string;
  received: ReceivedMail[];
  /** Waits until `count` messages have arrived in all (throws after timeoutMs). */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedMail[]>;
  stop(): Promise<void>;
}

export interface SmtpServerOptions {
  /** Listen here (default: any free port). */
  port?: number;
  /** Answer this message with a temporary failure (451) instead of accepting it. */
  refuse?: (parsed: ParsedMail) => boolean;
}

/** A real SMTP server in this process that keeps every message it is given, parsed. */
export async function startSmtpServer(options: SmtpServerOptions = {}): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream).then(
        (parsed) => {
          if (options.refuse?.(parsed)) {
            callback(Object.assign(new Error('try again later'), { responseCode: 451 }));
            return;
          }
          received.push({ to: session.envelope.rcptTo.map((r) => r.address), parsed });
          callback();
        },
        (err: Error) => callback(err),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    received,
    async waitFor(count, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (received.length < count) {
        if (Date.now() > until)
          throw new Error(
            `expected ${count} messages by SMTP, ${received.length} arrived in ${timeoutMs} ms`,
          );
        await new Promise((r) => setTimeout(r, 50));
      }
      return received;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
