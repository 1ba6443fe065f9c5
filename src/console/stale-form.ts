import { type Locale, translate } from '../shared/messages.js';

// What a console form refused as stale (409 edit_conflict) says by each field, the same for every
// versioned form (campaigns, webhook endpoints): the colleague's value where only they changed it,
// the editor's where only the editor did, both where both did, so nothing typed is lost.

type Form = Record<string, unknown>;

export interface StaleForm {
  /** The form as posted; its `loaded` field is the JSON of the values it was opened with. */
  typed: object;
  /** The stored values, as the form shows them, saved by the colleague. */
  current: object;
  /** The fields an editor types. */
  fields: readonly string[];
  /** A field's value as compared (trimmed, sorted, a checkbox as "true"/"false"). */
  read: (field: string, form: Form) => string;
  /** A compared value in the words of a note; the value itself by default. */
  show?: (field: string, value: string) => string;
}

/**
 * For each field that differs from what is stored, its note, and the fields whose typed value
 * stays in the form (`keepMine`: only the editor changed them).
 */
export function staleFormNotes(
  locale: Locale,
  { typed, current, fields, read, show = (_field, value) => value }: StaleForm,
): { notes: Record<string, string>; keepMine: string[] } {
  const loaded = loadedOf((typed as Form).loaded);
  const notes: Record<string, string> = {};
  const keepMine: string[] = [];
  for (const field of fields) {
    const mine = read(field, typed as Form);
    const theirs = read(field, current as Form);
    if (mine === theirs) continue;
    const before = loaded && field in loaded ? read(field, loaded) : undefined;
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

/** The values a form was opened with, from its `loaded` field; undefined when it has none readable. */
function loadedOf(value: unknown): Form | undefined {
  if (typeof value !== 'string' || !value) return undefined;
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed && typeof parsed === 'object' ? (parsed as Form) : undefined;
  } catch {
    return undefined;
  }
}
