import { createWriteStream } from 'node:fs';
import os from 'node:os';
import { pipeline } from 'node:stream/promises';
import type { Connection } from 'mongoose';
import { csvStream } from '../http/csv.js';
import { reportPullModel } from '../staff/audit.model.js';
import type { ImportSummary } from './import.service.js';

// Every import run is written to the staff audit log, the one report pulls go to (report_audit):
// who ran it, when, which file, and what it did (or, for a dry run, would have done).

export function recordImport(
  db: Connection,
  summary: ImportSummary,
  input: { file: string; list?: string; since?: string; at: Date; who?: string },
) {
  return reportPullModel(db).create({
    staffId: 'cli',
    staffEmail: input.who ?? `${os.userInfo().username}@${os.hostname()}`,
    role: 'cli',
    report: `import:${summary.kind}`,
    format: summary.format,
    filters: {
      file: input.file,
      ...(input.list ? { list: input.list } : {}),
      ...(input.since ? { since: input.since } : {}),
      dryRun: summary.dryRun,
      created: summary.created,
      existing: summary.existing,
      rejected: summary.rejected.length,
      ...summary.details,
    },
    rows: summary.rows,
    at: input.at,
  });
}

/** The rejected-rows report: one line per refused row and why (formulas neutralised, as in every CSV we write). */
export async function writeRejections(summary: ImportSummary, file: string): Promise<void> {
  await pipeline(
    (function* () {
      for (const r of summary.rejected) yield { line: r.line, email: r.email, reason: r.reason };
    })(),
    csvStream(['line', 'email', 'reason']),
    createWriteStream(file),
  );
}
