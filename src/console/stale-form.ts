import { type Locale, translate } from '../shared/messages.js';

// What a console form refused as stale (409 edit_conflict) says by each field, the same for every
// versioned form (campaigns, webhook endpoints): the colleague's value where only they changed it,
// the editor's where only the editor did, both where both did, so nothing typed is lost.

export interface StaleField {
  /** What the form was opened with, when it said (the `loaded` field), else undefined. */
  before: string | undefined;
  /** What the editor typed. */
  mine: string;
  /** What is stored now, saved by the colleague. */
  theirs: string;
}

/**
 * For each field that differs from what is stored, its note and whether the typed value stays in
 * the form (`keepMine`: only the editor changed it). Values are compared as given; `show` turns one
 * into the words of the note.
 */
export function staleFormNotes(
  locale: Locale,
  fields: Record<string, StaleField>,
  show: (field: string, value: string) => string = (_field, value) => value,
): { notes: Record<string, string>; keepMine: string[] } {
  const notes: Record<string, string> = {};
  const keepMine: string[] = [];
  for (const [field, { before, mine, theirs }] of Object.entries(fields)) {
    if (mine === theirs) continue;
    const shown = { theirs: show(field, theirs), mine: show(field, mine), before: show(field, before ?? '') };
    if (before === mine) {
      notes[field] = translate(locale, 'console.conflict.theirs', shown);
    } else if (before === theirs) {
      keepMine.push(field);
      notes[field] = translate(locale, 'console.conflict.mine', shown);
    } else {
      notes[field] = translate(locale, 'console.conflict.both', shown);
    }
  }
  return { notes, keepMine };
}
