import { type Connection, Schema, type Types } from 'mongoose';

// The outgoing webhooks' collections, all written only by this folder. Every hot read is by `_id`
// (ADR 0001): a delivery by its job id, an attempt by `<delivery>:<n>`, an endpoint by its id.
// Listing endpoints, and an endpoint's deliveries for the admin API, scans; both are read at the
// pace of a person.

/** A signing secret; a rotated-out one keeps signing until `expiresAt` (the overlap). */
export interface EndpointSecret {
  secret: string;
  createdAt: Date;
  expiresAt?: Date;
}

export interface WebhookEndpoint {
  _id: string; // ep_…
  /** `slack`: a Slack incoming webhook, sent `{text}` and no signature (slack.ts); else Standard Webhooks. */
  kind?: 'standard' | 'slack';
  url: string;
  description?: string;
  /** Event types this endpoint receives (WEBHOOK_EVENT_TYPES). */
  events: string[];
  /** Newest first; expired ones are dropped at the next rotation. None for a Slack endpoint. */
  secrets: EndpointSecret[];
  /** How many times the secret was rotated: the rotation's claim key, so two rotations cannot both win. */
  rotations: number;
  enabled: boolean;
  disabledAt?: Date;
  disabledReason?: string;
  /**
   * Raised by one at every change of the URL, events, description or status, so a save from an
   * older version is refused (src/infra/versions.ts); missing on endpoints saved before (read as 0).
   */
  version?: number;
  createdAt: Date;
  updatedAt: Date;
}

/** One message to one endpoint: a job of the `webhooks` queue (src/infra/jobs/). */
export interface WebhookDelivery {
  _id: Types.ObjectId;
  key: string;
  endpointId: string;
  /** The Standard Webhooks `webhook-id`: the same for every attempt and redelivery of one message. */
  webhookId: string;
  eventType: string;
  /** The exact body sent, stored once, so every attempt signs and sends the same bytes. */
  body: string;
  status: 'pending' | 'sending' | 'delivered' | 'failed';
  attempts: number;
  claimSeq: number;
  nextAttemptAt: Date;
  lastError?: string;
  lastStatus?: number;
  deliveredAt?: Date;
  /** Set on a manual redelivery: the delivery it repeats. */
  redeliveryOf?: string;
  createdAt?: Date;
}

/** One attempt at a delivery, as the log shows it. */
export interface WebhookAttempt {
  _id: string; // <deliveryId>:<attempt>
  deliveryId: string;
  endpointId: string;
  webhookId: string;
  attempt: number;
  at: Date;
  /** The receiver's HTTP status; absent when there was no answer. */
  status?: number;
  durationMs: number;
  ok: boolean;
  error?: string;
  /** The start of the receiver's answer, for the admin reading the log. */
  response?: string;
}

/**
 * An endpoint's health, without read-modify-write on the endpoint: `<ep>:ok` holds the last
 * success; `<ep>:failing:<okMs>` is inserted once, at the first failure after that success, and
 * so says since when the endpoint fails.
 */
export interface EndpointHealth {
  _id: string;
  at: Date;
}

const endpointSchema = new Schema<WebhookEndpoint>(
  {
    _id: String,
    kind: { type: String, enum: ['standard', 'slack'], default: 'standard' },
    url: { type: String, required: true },
    description: String,
    events: { type: [String], required: true },
    secrets: [
      new Schema<EndpointSecret>(
        { secret: { type: String, required: true }, createdAt: Date, expiresAt: Date },
        { _id: false },
      ),
    ],
    rotations: { type: Number, required: true, default: 0 },
    enabled: { type: Boolean, required: true, default: true },
    disabledAt: Date,
    disabledReason: String,
    version: { type: Number, default: 0 },
  },
  { timestamps: true, versionKey: false },
);

const deliverySchema = new Schema<WebhookDelivery>(
  {
    key: { type: String, required: true },
    endpointId: { type: String, required: true },
    webhookId: { type: String, required: true },
    eventType: { type: String, required: true },
    body: { type: String, required: true },
    status: { type: String, required: true },
    attempts: { type: Number, required: true, default: 0 },
    claimSeq: { type: Number, required: true, default: 0 },
    nextAttemptAt: { type: Date, required: true },
    lastError: String,
    lastStatus: Number,
    deliveredAt: Date,
    redeliveryOf: String,
  },
  { timestamps: true, versionKey: false },
);

const attemptSchema = new Schema<WebhookAttempt>(
  {
    _id: String,
    deliveryId: { type: String, required: true },
    endpointId: { type: String, required: true },
    webhookId: { type: String, required: true },
    attempt: { type: Number, required: true },
    at: { type: Date, required: true },
    status: Number,
    durationMs: { type: Number, required: true },
    ok: { type: Boolean, required: true },
    error: String,
    response: String,
  },
  { versionKey: false },
);

const healthSchema = new Schema<EndpointHealth>(
  { _id: String, at: { type: Date, required: true } },
  { versionKey: false },
);

/** The job runner's queue name; due deliveries are found through its markers (src/infra/due.ts). */
export const WEBHOOK_QUEUE = 'webhooks';

export function registerWebhookModels(db: Connection): void {
  if (db.models.WebhookEndpoint) return;
  db.model('WebhookEndpoint', endpointSchema, 'webhook_endpoints');
  db.model('WebhookDelivery', deliverySchema, 'webhook_deliveries');
  db.model('WebhookAttempt', attemptSchema, 'webhook_attempts');
  db.model('WebhookEndpointHealth', healthSchema, 'webhook_endpoint_health');
}

export const webhookModels = (db: Connection) => ({
  Endpoint: db.model<WebhookEndpoint>('WebhookEndpoint'),
  Delivery: db.model<WebhookDelivery>('WebhookDelivery'),
  Attempt: db.model<WebhookAttempt>('WebhookAttempt'),
  Health: db.model<EndpointHealth>('WebhookEndpointHealth'),
});
