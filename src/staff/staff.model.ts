import { type Connection, Schema, type Types } from 'mongoose';

export const STAFF_ROLES = ['admin', 'finance', 'editor'] as const;
export type StaffRole = (typeof STAFF_ROLES)[number];

export interface StaffUser {
  _id: Types.ObjectId;
  email: string;
  name: string;
  role: StaffRole;
  passwordHash: string;
  disabled: boolean;
  createdAt: Date;
}

/** A refresh token, stored as its SHA-256 only; each is spent once and replaced (rotation). */
export interface StaffRefreshToken {
  _id: string;
  userId: Types.ObjectId;
  expiresAt: Date;
}

const staffUserSchema = new Schema<StaffUser>(
  {
    email: { type: String, required: true, unique: true },
    name: { type: String, required: true },
    role: { type: String, enum: STAFF_ROLES, required: true },
    passwordHash: { type: String, required: true },
    disabled: { type: Boolean, required: true, default: false },
  },
  { timestamps: true },
);

const refreshTokenSchema = new Schema<StaffRefreshToken>(
  {
    _id: String,
    userId: { type: Schema.Types.ObjectId, required: true, index: true },
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export function registerStaffModels(db: Connection): void {
  if (!db.models.StaffUser) db.model('StaffUser', staffUserSchema, 'staff_users');
  if (!db.models.StaffRefreshToken) db.model('StaffRefreshToken', refreshTokenSchema, 'staff_refresh_tokens');
}

export const staffModels = (db: Connection) => ({
  StaffUser: db.model<StaffUser>('StaffUser'),
  StaffRefreshToken: db.model<StaffRefreshToken>('StaffRefreshToken'),
});
