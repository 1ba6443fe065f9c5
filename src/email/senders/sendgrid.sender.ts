import { Client } from '@sendgrid/client';
import { MailService } from '@sendgrid/mail';
import type { Clock } from '../../infra/clock.js';
import { type EmailSender, SendFailure } from '../sender.js';

export interface SendgridSenderOptions {
  apiKey: string;
  /** Tests point this at the local capture server; production leaves SendGrid's own. */
  baseUrl?: string;
  /** Must stay well under the worker's lease so a slow send never outlives it. */
  timeoutMs?: number;
  clock: Clock;
}

export function createSendgridSender(options: SendgridSenderOptions): EmailSender {
  const client = new Client();
  client.setApiKey(options.apiKey);
  if (options.baseUrl) client.setDefaultRequest('baseUrl', options.baseUrl);
  const mail = new MailService();
  mail.setClient(client);
  mail.setTimeout(options.timeoutMs ?? 20_000);

  return {
    name: 'sendgrid',
    async send(email) {
      try {
        const [response] = await mail.send({
          to: email.to,
          from: email.from,
          replyTo: email.replyTo,
          subject: email.subject,
          text: email.text,
          html: email.html,
          headers: Object.keys(email.headers).length ? email.headers : undefined,
          categories: [email.category],
          // Comes back on every event SendGrid posts, so events find their job.
          customArgs: { job_id: email.jobId },
          // Our links are single-use or signed (sign-in, confirmation, gift redemption,
          // unsubscribe): they must reach the reader as we wrote them, not rewritten through a
          // tracking domain that fetches them first and logs the secret in its URL.
          trackingSettings: { clickTracking: { enable: false, enableText: false } },
        });
        const messageId = response.headers['x-message-id'];
        return { providerMessageId: typeof messageId === 'string' ? messageId : undefined };
      } catch (error) {
        throw toSendFailure(error, options.clock.now());
      }
    },
  };
}

interface ProviderError {
  code?: number | string;
  message?: string;
  response?: { headers?: Record<string, string>; body?: { errors?: { message?: string; field?: string }[] } };
}

function toSendFailure(error: unknown, now: Date): SendFailure {
  const { code, response, message } = error as ProviderError;
  const status = typeof code === 'number' ? code : undefined;
  if (status === undefined || !response) {
    return new SendFailure(`network error: ${message ?? 'no response'}`, true);
  }
  const reasons = response.body?.errors
    ?.map((e) => (e.field ? `${e.field}: ${e.message}` : e.message))
    .join('; ');
  const reason = `SendGrid ${status}${reasons ? `: ${reasons}` : ''}`;
  if (status === 429 || status >= 500) {
    return new SendFailure(reason, true, retryAfterMs(response.headers ?? {}, now), status);
  }
  return new SendFailure(reason, false, undefined, status);
}

/** Retry-After (seconds or an HTTP date) or SendGrid's X-RateLimit-Reset (epoch seconds). */
export function retryAfterMs(headers: Record<string, string>, now: Date): number | undefined {
  const retryAfter = headers['retry-after'];
  if (retryAfter) {
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - now.getTime());
  }
  const reset = headers['x-ratelimit-reset'];
  if (reset && /^\d+$/.test(reset)) return Math.max(0, Number(reset) * 1000 - now.getTime());
  return undefined;
}
