import { type Connection, Schema } from 'mongoose';

/** Every report pull: who, when, which report, with what filters, how many rows. Write-once. */
export interface ReportPull {
  staffId: string;
  staffEmail: string;
  role: string;
  report: string;
  format: string;
  filters: Record<string, unknown>;
  rows: number;
  at: Date;
}

const schema = new Schema<ReportPull>(
  {
    staffId: { type: String, required: true },
    staffEmail: { type: String, required: true },
    role: { type: String, required: true },
    report: { type: String, required: true },
    format: { type: String, required: true },
    filters: { type: Schema.Types.Mixed, default: {} },
    rows: { type: Number, required: true },
    at: { type: Date, required: true, index: true },
  },
  { versionKey: false, minimize: false },
);

export function registerReportModels(db: Connection): void {
  if (!db.models.ReportPull) db.model('ReportPull', schema, 'report_audit');
}

export const reportPullModel = (db: Connection) => db.model<ReportPull>('ReportPull');
