import type { Logger } from '@hero/core/lib/logger';
import { mailConfigOf } from '@hero/core/mail/mail-env';
import { createMailer, describeSmtpUrl, type Mailer } from '@hero/core/mail/mailer';
import {
  type DeliverOutboxSummary,
  deliverOutbox,
  type OutboxHandler,
} from '@hero/core/outbox/deliver-outbox';
import { EMAIL_TOPIC } from '@hero/core/outbox/email-events';
import { VM_RELEASE_TOPIC, type VmReleasePayload } from '@hero/core/outbox/enqueue';
import { NOTIFY_TOPICS } from '@hero/core/outbox/notify-events';
import { z } from 'zod';
import { tickTiming, type WorkerConfig } from '../config.ts';
import { createDeployerClient, type DeployerClient } from '../deployer/deployer-client.ts';
import { emailHandler } from '../notify/email-handler.ts';
import { notifyHandler } from '../notify/notify-handler.ts';
import type { Job } from '../runtime/job.ts';

const vmReleasePayload = z.object({
  poolVmId: z.string().min(1),
  allocationId: z.string().min(1),
  userId: z.string().min(1),
  reason: z.string().nullable(),
  releasedAt: z.string().nullable(),
}) satisfies z.ZodType<VmReleasePayload>;

/**
 * The `vm.release` handler: tells the deployer to take the VM back (`POST /admin/release-vm`,
 * `idempotency-key: outbox-<id>`), or, with no deployer configured, logs what it would do. A
 * failed call throws, so the outbox retries it with backoff.
 */
export function vmReleaseHandler(deployer: DeployerClient | null, log: Logger): OutboxHandler {
  return async (row) => {
    const parsed = vmReleasePayload.safeParse(row.payload);
    if (!parsed.success) {
      throw new Error(
        `malformed ${VM_RELEASE_TOPIC} payload: ${parsed.error.issues.map((i) => i.path.join('.') || i.message).join(', ')}`,
      );
    }
    const event = parsed.data;
    if (!deployer) {
      log.info(
        { outboxId: row.id, poolVmId: event.poolVmId, allocationId: event.allocationId },
        `deployer-release stub: would release pool_vm_id=${event.poolVmId} here`,
      );
      return;
    }
    const { status } = await deployer.releaseVm(
      {
        pool_vm_id: event.poolVmId,
        allocation_id: event.allocationId,
        user_id: event.userId,
        reason: event.reason,
        released_at: event.releasedAt,
      },
      { idempotencyKey: `outbox-${row.id}` },
    );
    log.info({ outboxId: row.id, poolVmId: event.poolVmId, status }, 'deployer released the VM');
  };
}

/** The deployer URL without credentials or query, for logs. */
function describeUrl(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

function deployerOf(config: WorkerConfig): DeployerClient | null {
  if (!config.DEPLOYER_URL) return null;
  return createDeployerClient({
    baseUrl: config.DEPLOYER_URL,
    token: config.DEPLOYER_TOKEN,
    timeoutMs: config.DEPLOYER_TIMEOUT_MS,
  });
}

/**
 * One mailer per process, made on the first tick: a pooled SMTP transport is not built anew on
 * every tick (a tick's config is the process's, parsed once).
 */
let mailer: Mailer | undefined;
function mailerOf(config: WorkerConfig, log: Logger): Mailer {
  mailer ??= createMailer(mailConfigOf(config), log);
  return mailer;
}

/**
 * The outbox worker: each tick delivers due outbox events (`vm.release`, written by the pool
 * provisioner's release, to the deployer; the user events of NOTIFY_TOPICS to the notify
 * webhook; the users' emails of them, topic `email`, to SMTP_URL) one at a time, so several replicas share the work and a stop request waits for one
 * delivery at most. Delivery, retries with exponential backoff and the
 * FAILED state after OUTBOX_MAX_ATTEMPTS are deliverOutbox's.
 */
export const releaseOutboxJob: Job<DeliverOutboxSummary> = {
  name: 'outbox',
  timing: (config) => tickTiming(config, ['OUTBOX_INTERVAL_MS', 'OUTBOX_SCHEDULE']),
  describeConfig: (config) => ({
    deployer: config.DEPLOYER_URL ? describeUrl(config.DEPLOYER_URL) : 'stub',
    notifyWebhook: config.NOTIFY_WEBHOOK_URL ? describeUrl(config.NOTIFY_WEBHOOK_URL) : 'log',
    mail: config.SMTP_URL
      ? describeSmtpUrl(config.SMTP_URL)
      : config.MAIL_DIR
        ? `directory ${config.MAIL_DIR}`
        : 'log',
  }),
  async run({ em, config, log, signal }) {
    const notifyLog = log.child({ module: 'notify' });
    const mailLog = log.child({ module: 'mail' });
    const handlers: Record<string, OutboxHandler> = {
      [VM_RELEASE_TOPIC]: vmReleaseHandler(deployerOf(config), log.child({ module: 'deployer' })),
      ...Object.fromEntries(NOTIFY_TOPICS.map((topic) => [topic, notifyHandler(topic, config, notifyLog)])),
      [EMAIL_TOPIC]: emailHandler(mailerOf(config, mailLog), config.WEB_PUBLIC_URL, mailLog),
    };
    const total: DeliverOutboxSummary = { delivered: 0, retried: 0, failed: 0, errors: [] };
    // One event per call, so a stop request (signal) is honoured between two deliveries.
    for (let i = 0; i < config.OUTBOX_BATCH_SIZE && !signal.aborted; i++) {
      const one = await deliverOutbox(em, {
        handlers,
        limit: 1,
        maxAttempts: config.OUTBOX_MAX_ATTEMPTS,
        baseBackoffMs: config.OUTBOX_RETRY_BASE_MS,
        maxBackoffMs: config.OUTBOX_RETRY_MAX_MS,
        log,
      });
      total.delivered += one.delivered;
      total.retried += one.retried;
      total.failed += one.failed;
      total.errors.push(...one.errors);
      if (one.delivered + one.retried + one.failed === 0) break;
    }
    return total;
  },
};
