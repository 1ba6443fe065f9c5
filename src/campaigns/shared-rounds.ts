import type { Connection } from 'mongoose';

// Work that any number of callers ask for at once and that one run serves them all: the milestone
// check after each arrival reads the count and the announcement chain, and 1,500 deliveries at once
// would each read them. A caller is served by a run that starts after it asked (so the run sees
// what the caller wrote before asking): while a run is under way, everyone who asks shares the next.

interface Rounds {
  running?: Promise<void>;
  next?: Promise<void>;
}

const perDatabase = new WeakMap<Connection, Map<string, Rounds>>();

export function sharedRound(db: Connection, key: string, work: () => Promise<void>): Promise<void> {
  const perKey = perDatabase.get(db) ?? new Map<string, Rounds>();
  perDatabase.set(db, perKey);
  const rounds = perKey.get(key) ?? {};
  perKey.set(key, rounds);
  if (rounds.next) return rounds.next;
  const next: Promise<void> = (rounds.running ?? Promise.resolve())
    .catch(() => {}) // the run before failed for its callers; this one is tried afresh
    .then(() => {
      rounds.next = undefined;
      rounds.running = next;
      return work();
    })
    .finally(() => {
      if (rounds.running === next) rounds.running = undefined;
      if (!rounds.running && !rounds.next) perKey.delete(key);
    });
  rounds.next = next;
  return next;
}
