import { type Connection, Schema, type Types } from 'mongoose';

/** A magic-link token, stored only as its SHA-256: the database never holds a usable link. */
export interface SignInToken {
  _id: string; // sha256(token), hex
  memberId: Types.ObjectId;
  expiresAt: Date;
  createdAt: Date;
}

const signInTokenSchema = new Schema<SignInToken>(
  {
    _id: String,
    memberId: { type: Schema.Types.ObjectId, required: true },
    expiresAt: { type: Date, required: true, index: true },
    createdAt: { type: Date, required: true },
  },
  { versionKey: false },
);

export function registerSignInTokenModel(db: Connection): void {
  if (!db.models.SignInToken) db.model('SignInToken', signInTokenSchema, 'sign_in_tokens');
}

export const signInTokenModel = (db: Connection) => db.model<SignInToken>('SignInToken');
