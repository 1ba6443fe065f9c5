// How one capability tells the rest of the app that something happened, without knowing who
// listens: memberships publish "member joined", campaigns count it. Handlers run in-process and
// are awaited, so a failing handler fails the webhook delivery and Stripe retries it. Delivery is
// at least once (a retry, or a second Stripe event about the same payment, publishes again with
// the same facts), so handlers must be idempotent.

export interface MemberJoined {
  memberId: string;
  email: string;
  joinedAt: Date;
  source: 'checkout' | 'gift' | 'imported';
  campaign?: string;
  /** Whether money arrived as they joined; false for a trial or a 100 % promotion code. */
  paid?: boolean;
}

export interface LedgerRecorded {
  entryId: string;
  kind: string;
  memberId?: string;
  amount: number;
  currency: string;
  occurredAt: Date;
  /** For refunds and disputes: the Stripe id of the payment they take back. */
  reverses?: string;
  /** For refunds: this entry completes the refund of the whole payment (a partial refund is false). */
  fullRefund?: boolean;
}

export interface AddressSuppressed {
  email: string;
  reason: string;
}

export interface DomainEventMap {
  'member.joined': MemberJoined;
  'ledger.recorded': LedgerRecorded;
  'address.suppressed': AddressSuppressed;
}

type Handler<K extends keyof DomainEventMap> = (event: DomainEventMap[K]) => Promise<void> | void;

export class DomainEvents {
  private readonly handlers = new Map<keyof DomainEventMap, Handler<never>[]>();

  on<K extends keyof DomainEventMap>(name: K, handler: Handler<K>): void {
    this.handlers.set(name, [...(this.handlers.get(name) ?? []), handler as Handler<never>]);
  }

  async publish<K extends keyof DomainEventMap>(name: K, event: DomainEventMap[K]): Promise<void> {
    for (const handler of (this.handlers.get(name) ?? []) as Handler<K>[]) await handler(event);
  }
}
