import { type Connection, Schema } from 'mongoose';

// Stored tiles of a campaign's log (tiles.ts): `_id` `<campaign>/tile/<L>/<N>` for a full tile,
// `<campaign>/tile/<L>/<N>.p/<W>` for the partial tile of a checkpoint's tree size. Derived from
// the leaves and never changed: a tile is inserted once (a racing writer's insert is refused, and
// it had the same bytes), rebuilt from the leaves when missing (tile-store.ts).

export interface LogTile {
  _id: string;
  /** The tile's hashes, 32 bytes each, concatenated: exactly what tlog-tiles serves. */
  hashes: Buffer;
}

const tileSchema = new Schema<LogTile>(
  { _id: String, hashes: { type: Buffer, required: true } },
  { versionKey: false },
);

export function registerTileModel(db: Connection): void {
  if (!db.models.LogTile) db.model('LogTile', tileSchema, 'drive_log_tiles');
}

export const tileModel = (db: Connection) => db.model<LogTile>('LogTile');

export const tileId = (campaignId: string, path: string) => `${campaignId}/tile/${path}`;
