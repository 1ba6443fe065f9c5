/** A message ready for a provider: rendered, addressed, with the headers and tags it needs. */
export interface OutgoingEmail {
  jobId: string;
  to: { email: string; name?: string };
  from: { email: string; name: string };
  replyTo?: string;
  subject: string;
  html: string;
  text: string;
  headers: Record<string, string>;
  category: string;
}

export interface EmailSender {
  readonly name: string;
  send(email: OutgoingEmail): Promise<{ providerMessageId?: string }>;
}

/**
 * Why a send did not go through. `retryable` failures (network, 429, 5xx) are tried again later,
 * not before `retryAfterMs`; the rest are final.
 */
export class SendFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly retryAfterMs?: number,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'SendFailure';
  }
}
