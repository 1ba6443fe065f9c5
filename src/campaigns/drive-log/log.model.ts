import { type Connection, Schema } from 'mongoose';

// The drive log: per campaign, an append-only run of leaves `<campaign>#0`, `<campaign>#1`, …
// A leaf says one contribution was counted (`add`) or taken back (`revoke`, naming the addition's
// index), as a salted commitment: SHA-256 of campaign, kind, record id and 256 random bits. The
// public sees kind, commitment and `revokes`; the record id and salt stay here and are the member's
// receipt. Leaves are never changed or removed.
//
// The starting offset (members counted before the service) and each change to it are leaves too
// (`offset`: the amount of the change, a public reason and a hashed staff id), so the count is a
// function of the log alone: sum of offset amounts + additions − revocations (ADR 0003).

export interface LogLeaf {
  _id: string; // `<campaignId>#<index>`
  campaignId: string;
  index: number;
  kind: 'add' | 'revoke' | 'offset';
  /** `<campaignId>|<kind>|<recordId>`, unique: one record is one leaf, however often it is logged. */
  record: string;
  recordId: string;
  salt: string;
  commitment: string;
  revokes?: number;
  /** Offset leaves: the change (signed), SHA-256 of the staff id, and why (public text). */
  amount?: number;
  staff?: string;
  reason?: string;
  /** The signed promise that this leaf is leaf `index` (promises.ts): public, the member's receipt. */
  promise?: string;
  /**
   * The log's count with this leaf: the leaf before's `total` plus this one's change, written with
   * the leaf, so the count is one read by `_id` (log-count.ts). Absent on leaves logged before it.
   */
  total?: number;
  at: Date;
}

/**
 * Primary-key ways into the log: `rec:<record>` (a member's receipt) and `com:<campaignId>:<commitment>`
 * (an inclusion proof), each naming a leaf's index. Written after the leaf; a retry or the next
 * checkpoint writes any a crash left out.
 */
export interface LogAlias {
  _id: string;
  index: number;
}

/** A signed statement of the log's state, chained to the one before: `<campaignId>#<sequence>`. */
export interface Checkpoint {
  _id: string;
  campaignId: string;
  sequence: number;
  /**
   * The checkpoint as published: a C2SP signed note whose text is a C2SP tlog-checkpoint (ADR 0014).
   * bin/drive-verify-core.mjs and any note verifier read it; the fields below repeat it.
   */
  note: string;
  /** The configured key that signed it. */
  kid: string;
  /** SHA-256 of the note's text: what the next checkpoint names as `previous`. */
  hash: string;
  treeSize: number;
  count: number;
  offset: number;
  /**
   * True when `offset` is the sum of the offset leaves in the tree; false or absent on checkpoints
   * signed before offsets were leaves, whose offset was the campaign's stored claim.
   */
  offsetFromLeaves?: boolean;
  time: Date;
}

const leafSchema = new Schema<LogLeaf>(
  {
    _id: String,
    campaignId: { type: String, required: true },
    index: { type: Number, required: true },
    kind: { type: String, required: true },
    record: { type: String, required: true, unique: true },
    recordId: { type: String, required: true },
    salt: { type: String, required: true },
    commitment: { type: String, required: true },
    revokes: Number,
    amount: Number,
    staff: String,
    reason: String,
    promise: String,
    total: Number,
    at: { type: Date, required: true },
  },
  { versionKey: false },
);

const aliasSchema = new Schema<LogAlias>(
  { _id: String, index: { type: Number, required: true } },
  { versionKey: false },
);

const checkpointSchema = new Schema<Checkpoint>(
  {
    _id: String,
    campaignId: { type: String, required: true },
    sequence: { type: Number, required: true },
    note: { type: String, required: true },
    kid: { type: String, required: true },
    hash: { type: String, required: true },
    treeSize: { type: Number, required: true },
    count: { type: Number, required: true },
    offset: { type: Number, required: true },
    offsetFromLeaves: Boolean,
    time: { type: Date, required: true },
  },
  { versionKey: false },
);

export function registerTransparencyModels(db: Connection): void {
  if (!db.models.LogLeaf) db.model('LogLeaf', leafSchema, 'drive_log_leaves');
  if (!db.models.LogAlias) db.model('LogAlias', aliasSchema, 'drive_log_aliases');
  if (!db.models.Checkpoint) db.model('Checkpoint', checkpointSchema, 'drive_checkpoints');
}

export const transparencyModels = (db: Connection) => ({
  Leaf: db.model<LogLeaf>('LogLeaf'),
  Alias: db.model<LogAlias>('LogAlias'),
  Checkpoint: db.model<Checkpoint>('Checkpoint'),
});

export const leafId = (campaignId: string, index: number) => `${campaignId}#${index}`;
export const recordKey = (campaignId: string, kind: LogLeaf['kind'], recordId: string) =>
  `${campaignId}|${kind}|${recordId}`;
export const recordAlias = (record: string) => `rec:${record}`;
export const commitmentAlias = (campaignId: string, commitment: string) => `com:${campaignId}:${commitment}`;
