import type { Checkpoint } from './log.model.js';

// A log's name, apart so that both checkpoints and leaf promises (promises.ts) can use it.

/**
 * A campaign's log identity, the checkpoint's first line and its key name: `<public host>/drive/<slug>`.
 * A campaign keeps the origin of its first checkpoint (slugs never change; a domain may).
 */
export function logOrigin(publicBaseUrl: string, slug: string): string {
  const url = new URL(publicBaseUrl);
  return `${url.host}${url.pathname.replace(/\/$/, '')}/drive/${slug}`.replaceAll('+', '%2B');
}

/** The origin a stored checkpoint was signed under: its note's first line. */
export const originOf = (checkpoint: Pick<Checkpoint, 'note'>) =>
  checkpoint.note.slice(0, checkpoint.note.indexOf('\n'));
