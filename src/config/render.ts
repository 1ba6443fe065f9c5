import { z } from 'zod';
import { configSchema, GROUPS, type Setting, settingsOf } from './schema.js';

// Renders docs/configuration.md and .env.example from the schema, so neither is written by hand
// (`npm run docs:config`; test/foundation/configuration-docs.test.ts fails when either is stale).

export const RENDER_COMMAND = 'npm run docs:config';

interface Row {
  name: string;
  meta: Setting;
  default?: string;
  allowed: string;
}

function rows(): Row[] {
  return settingsOf().map(([name, meta]) => {
    const field = configSchema.shape[name] as z.ZodType;
    return { name, meta, default: defaultOf(field), allowed: allowedValues(field) };
  });
}

/** The value used when the variable is unset, as it would be written in the environment. */
function defaultOf(field: z.ZodType): string | undefined {
  if (!(field instanceof z.ZodDefault)) return undefined;
  return String(field.parse(undefined));
}

/** What the variable accepts: the schema's own words where it has them, else its JSON Schema. */
function allowedValues(field: z.ZodType): string {
  const json = z.toJSONSchema(field, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  if (Array.isArray(json.enum)) return json.enum.map((v) => `\`${v}\``).join(', ');
  const messages = checkMessages(field);
  if (messages.length > 0) return messages.join('; ');
  if (json.type === 'integer' || json.type === 'number') {
    const min =
      typeof json.minimum === 'number'
        ? json.minimum
        : typeof json.exclusiveMinimum === 'number'
          ? json.exclusiveMinimum + 1
          : undefined;
    // A bare .int() carries the safe-integer bounds; they are not a rule worth printing.
    const max =
      typeof json.maximum === 'number' && json.maximum < Number.MAX_SAFE_INTEGER ? json.maximum : undefined;
    if (min !== undefined && max !== undefined) return `an integer from ${min} to ${max}`;
    if (min === 1) return 'a positive integer';
    if (min !== undefined && min > -Number.MAX_SAFE_INTEGER) return `an integer, at least ${min}`;
    return 'an integer';
  }
  if (json.format === 'uri') return 'a URL';
  if (json.format === 'email') return 'an email address';
  return 'text';
}

/** The messages a field's checks were given (e.g. 'a colour like #1a73e8'), outermost type first. */
function checkMessages(field: z.ZodType): string[] {
  const messages: string[] = [];
  let current: z.core.$ZodType | undefined = field;
  while (current) {
    const def = current._zod.def as z.core.$ZodTypeDef & {
      innerType?: z.core.$ZodType;
      in?: z.core.$ZodType;
      checks?: z.core.$ZodCheck[];
    };
    for (const check of def.checks ?? []) {
      const message = check._zod.def.error?.({} as never);
      if (typeof message === 'string') messages.push(message);
      else if (message && typeof message === 'object' && typeof message.message === 'string')
        messages.push(message.message);
    }
    current = def.innerType ?? def.in;
  }
  return messages;
}

function productionColumn(meta: Setting): string {
  const parts: string[] = [];
  if (meta.production === 'required') parts.push('**required**');
  if (meta.production === 'unset') parts.push('must be unset');
  if (meta.productionMin !== undefined) parts.push(`at least ${meta.productionMin}`);
  if (meta.productionRule) parts.push(meta.productionRule);
  return parts.join(', ') || '—';
}

const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

/** docs/configuration.md */
export function renderConfigurationDoc(): string {
  const all = rows();
  const out = [
    '# Configuration',
    '',
    `<!-- Generated from src/config/schema.ts by \`${RENDER_COMMAND}\`; edit the schema, not this file. -->`,
    '',
    'The service reads its settings from environment variables (or a `.env` file beside it; ' +
      '`.env.example` lists every one). An empty value means "use the default". On a bad value the ' +
      'service refuses to start, names each bad variable and exits with status 78 (EX_CONFIG). ' +
      'With `NODE_ENV=production` it also refuses to start without the values marked **required**, ' +
      'with the stand-ins marked "must be unset", and with an answer floor below its default.',
    '',
  ];
  for (const [group, title] of Object.entries(GROUPS)) {
    const inGroup = all.filter((row) => row.meta.group === group);
    if (inGroup.length === 0) continue;
    out.push(`## ${title}`, '', '| Variable | Default | Allowed values | What it is | In production |');
    out.push('| --- | --- | --- | --- | --- |');
    for (const row of inGroup) {
      const example = row.meta.example ? ` Example: \`${row.meta.example}\`.` : '';
      out.push(
        `| \`${row.name}\` | ${row.default === undefined ? 'unset' : `\`${cell(row.default)}\``} | ` +
          `${cell(row.allowed)} | ${cell(row.meta.description + example)} | ${productionColumn(row.meta)} |`,
      );
    }
    out.push('');
  }
  return out.join('\n');
}

function wrap(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(/\s+/)) {
    if (line.length + 1 + word.length > width && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}

/** .env.example: every variable with its default (empty where there is none). */
export function renderEnvExample(): string {
  const all = rows();
  const out = [
    '# Every variable the service reads. Copy to .env (or set them in your process manager).',
    '# Empty means "use the default"; the service refuses to start on a bad value and names it.',
    `# Generated from src/config/schema.ts by \`${RENDER_COMMAND}\` (docs/configuration.md has the table).`,
  ];
  for (const [group, title] of Object.entries(GROUPS)) {
    const inGroup = all.filter((row) => row.meta.group === group);
    if (inGroup.length === 0) continue;
    out.push('', `# --- ${title} ---`);
    for (const row of inGroup) {
      const notes = [
        row.meta.description,
        row.meta.example ? `Example: ${row.meta.example}.` : '',
        row.meta.production === 'required' ? 'Required in production.' : '',
        row.meta.production === 'unset' ? 'Refused in production.' : '',
        row.allowed === 'text' ? '' : `Allowed: ${row.allowed.replaceAll('`', '')}.`,
      ];
      out.push(...wrap(notes.filter(Boolean).join(' ')));
      out.push(`${row.name}=${row.default ?? ''}`);
    }
  }
  return `${out.join('\n')}\n`;
}
