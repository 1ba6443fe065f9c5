// Types for bin/drive-verify-core.mjs, which stays plain JavaScript so that Node and browsers run it
// as it is.
export interface PublicLeaf {
  index: number;
  kind: 'add' | 'revoke';
  commitment: string;
  revokes?: number;
}
export interface CheckpointFields {
  /** The log's identity, `<host>/drive/<slug>`: the checkpoint's first line and its key name. */
  origin: string;
  /** The origin's last segment. */
  slug: string;
  tree_size: number;
  /** The RFC 6962 root hash in base64, as signed. */
  root: string;
  campaign: string;
  campaign_ends: string;
  sequence: number;
  additions: number;
  revocations: number;
  offset_claimed: number;
  count: number;
  time: string;
  previous: string;
  /** SHA-256 of the signed note text. */
  hash: string;
}
export type ReceiptResult = 'verified' | 'revoked' | 'pending' | 'not_found' | 'invalid' | 'unchecked';
export interface DriveVerification {
  ok: boolean;
  problems: string[];
  checkpoints: CheckpointFields[];
  latest?: CheckpointFields;
  receipt?: ReceiptResult;
  receiptIndex?: number;
  leaves?: PublicLeaf[];
  /** The log's offset leaves: the starting offset and each change, with a hashed staff id and why. */
  offsets?: OffsetChange[];
}
export interface OffsetChange {
  /** The leaf's index in the log. */
  index: number;
  amount: number;
  /** SHA-256 of the staff member's id, never the id. */
  staff: string;
  reason: string;
  /** When the log took it: its promise's signed time (null without a readable promise). */
  time: string | null;
  /** The first checkpoint holding it (null when none does). */
  checkpoint: number | null;
}
/** The checkpoint a verifier with memory verified last time, as remembered. */
export interface RememberedCheckpoint {
  sequence: number;
  size: number;
  root: string;
  noteHash: string;
  count?: number;
  time?: string;
}
export const FORMAT: string;
export function toHex(bytes: Uint8Array): string;
export function fromHex(hex: string): Uint8Array;
/** Strict, padded, canonical base64; null for anything else. */
export function fromBase64(text: string): Uint8Array | null;
export function toBase64(bytes: Uint8Array): string;
export function sha256Hex(text: string): Promise<string>;
export function leafHash(leafData: string): Promise<Uint8Array>;
export function leafDataOf(leaf: Pick<PublicLeaf, 'kind' | 'commitment' | 'revokes'>): string;
export function commitmentOf(
  campaignId: string,
  kind: string,
  recordId: string,
  salt: string,
): Promise<string>;
export function parseReceipt(text: string): { recordId: string; salt: string } | null;
export function treeHead(hashes: Uint8Array[]): Promise<Uint8Array>;
export function verifyInclusion(
  index: number,
  size: number,
  leaf: Uint8Array,
  path: Uint8Array[],
  root: Uint8Array,
): Promise<boolean>;
export function verifyConsistency(
  first: number,
  second: number,
  path: Uint8Array[],
  firstRoot: Uint8Array,
  secondRoot: Uint8Array,
): Promise<boolean>;
export function checkpointText(fields: Record<string, string | number>): string;
export function parseCheckpointText(text: string): Omit<CheckpointFields, 'hash'> | null;
export interface NoteSignature {
  name: string;
  /** The 4-byte key id, hex. */
  keyId: string;
  signature: Uint8Array;
}
export function parseNote(note: string): { text: string; signatures: NoteSignature[] } | null;
export function parseVkey(vkey: string): Promise<{ name: string; keyId: string; key: CryptoKey } | null>;
export function verifyDrive(options: {
  fetchJson: (path: string) => Promise<unknown>;
  slug: string;
  receipt?: string;
  pinned?: { sequence: number; hash: string }[];
  now?: Date;
  onProgress?: (step: string) => void;
}): Promise<DriveVerification>;
/** Witness cosignatures (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1). */
export const COSIGNATURE_V1: number;
export function cosignedMessage(text: string, timestamp: number | bigint): string;
export function parseCosignerVkey(
  vkey: string,
): Promise<{ name: string; keyId: string; key: CryptoKey } | null>;
export interface Cosigned {
  vkey: string;
  name: string;
  /** The time the witness put in its cosignature, ISO. */
  time: string;
}
export function checkCosignatures(
  note: { text: string; signatures: NoteSignature[] } | null,
  witnessVkeys: string[],
): Promise<{ cosigned: Cosigned[]; problems: string[] }>;
export type Refusal = 'key_change' | 'fork' | 'rollback' | 'broken_promise' | 'witnesses';
export function verifyDriveWithMemory(
  options: Parameters<typeof verifyDrive>[0] & {
    memory?: unknown;
    keys?: string[];
    acceptKeyChange?: boolean;
    /** Witness vkeys whose cosignatures on the newest checkpoint count. */
    witnesses?: string[];
    /** How many of them must have cosigned it; 0 (the default) checks none. */
    witnessesRequired?: number;
  },
): Promise<
  DriveVerification & {
    refusal: Refusal | null;
    memory?: unknown;
    cosignatures?: Cosigned[];
    /** The checkpoint of this log verified last time (undefined on first use). */
    remembered?: RememberedCheckpoint;
  }
>;
export type PromiseResult = 'kept' | 'pending' | 'broken' | 'invalid' | 'unchecked';
export function checkPromise(
  result: DriveVerification,
  promiseNote: string,
  options: { keys: string[]; receipt?: string; now?: Date },
): Promise<{ status: PromiseResult; problem?: string; index?: number; mergeBy?: string }>;
