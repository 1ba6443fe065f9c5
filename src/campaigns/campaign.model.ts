import { type Connection, Schema, type Types } from 'mongoose';

export interface Campaign {
  _id: Types.ObjectId;
  slug: string;
  title: string;
  description: string;
  /** How many new members the drive wants. */
  goal: number;
  startsAt: Date;
  endsAt: Date;
  timeZone: string;
  /** Members counted before this service went live. */
  startingOffset: number;
  counts: { gifts: boolean; oneTime: boolean };
  /** Percentages of the goal at which staff are told (default 25/50/75/100). */
  milestones: number[];
  /** Raised by one at every change; missing on campaigns saved before versions (read as 0). */
  version?: number;
  createdAt: Date;
  updatedAt: Date;
}

/**
 * One per member (or gift) per campaign: written once, never updated. The campaign's count is the
 * number of these minus the number of revocations, so it is exact on every backend (no $inc,
 * which FerretDB can lose under concurrency) and a duplicate event cannot count twice.
 */
export interface Contribution {
  _id: string; // `${campaignId}:${who}`
  campaignId: Types.ObjectId;
  kind: 'member' | 'gift' | 'one_time';
  memberId?: Types.ObjectId;
  source: string; // attribution: the campaign the reader came through, or "direct"
  countedAt: Date;
  day: string; // YYYY-MM-DD in the campaign's time zone
}

/** A contribution taken back (its first payment was refunded inside the window): once. */
export interface Revocation {
  _id: string; // the contribution's _id
  campaignId: Types.ObjectId;
  revokedAt: Date;
  reason: string;
}

const campaignSchema = new Schema<Campaign>(
  {
    slug: { type: String, required: true, unique: true },
    title: { type: String, required: true },
    description: { type: String, default: '' },
    goal: { type: Number, required: true },
    startsAt: { type: Date, required: true },
    endsAt: { type: Date, required: true },
    timeZone: { type: String, required: true },
    startingOffset: { type: Number, required: true, default: 0 },
    counts: { gifts: { type: Boolean, default: true }, oneTime: { type: Boolean, default: false } },
    milestones: { type: [Number], default: [25, 50, 75, 100] },
    version: { type: Number, default: 0 },
  },
  { timestamps: true },
);

const contributionSchema = new Schema<Contribution>(
  {
    _id: String,
    campaignId: { type: Schema.Types.ObjectId, required: true, index: true },
    kind: { type: String, required: true },
    memberId: { type: Schema.Types.ObjectId, index: true },
    source: { type: String, required: true },
    countedAt: { type: Date, required: true },
    day: { type: String, required: true },
  },
  { versionKey: false },
);

const revocationSchema = new Schema<Revocation>(
  {
    _id: String,
    campaignId: { type: Schema.Types.ObjectId, required: true, index: true },
    revokedAt: { type: Date, required: true },
    reason: { type: String, required: true },
  },
  { versionKey: false },
);

export function registerCampaignModels(db: Connection): void {
  if (!db.models.Campaign) db.model('Campaign', campaignSchema, 'campaigns');
  if (!db.models.Contribution) db.model('Contribution', contributionSchema, 'campaign_contributions');
  if (!db.models.Revocation) db.model('Revocation', revocationSchema, 'campaign_revocations');
}

export const campaignModels = (db: Connection) => ({
  Campaign: db.model<Campaign>('Campaign'),
  Contribution: db.model<Contribution>('Contribution'),
  Revocation: db.model<Revocation>('Revocation'),
});
