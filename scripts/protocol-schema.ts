// `npm run schema`: writes protocol/schema/<Shape>.json, the JSON Schema of every top-level wire
// shape (protocol/shapes.ts), from the zod schemas. test/protocol/schema.test.ts renders them in
// memory and fails when a checked-in file differs. Run with tsx (it imports the TypeScript sources).
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { WIRE_SHAPES } from '../protocol/shapes.js';

/** Where the files go. */
export const SCHEMA_DIR = fileURLToPath(new URL('../protocol/schema/', import.meta.url));
/** The command that rewrites them, for messages. */
export const SCHEMA_COMMAND = 'npm run schema';

/** File name → text, for every shape: draft 2020-12, keys in a fixed order, two-space indent, a final newline. */
export function renderSchemas(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, shape] of Object.entries(WIRE_SHAPES)) {
    // `input`: what a receiver's zod schema accepts (defaults optional, unknown keys allowed unless the schema is strict).
    const generated = z.toJSONSchema(shape.schema, { io: 'input', target: 'draft-2020-12', unrepresentable: 'throw' }) as Record<string, unknown>;
    const doc = { ...generated, title: name, description: shape.description };
    files.set(`${name}.json`, JSON.stringify(ordered(doc), null, 2) + '\n');
  }
  return files;
}

/** JSON Schema keywords in the order a reader wants them; any other key follows, alphabetically. */
const KEYWORDS = [
  '$schema',
  '$id',
  '$ref',
  'title',
  'description',
  'type',
  'const',
  'enum',
  'pattern',
  'format',
  'minLength',
  'maxLength',
  'minimum',
  'exclusiveMinimum',
  'maximum',
  'exclusiveMaximum',
  'default',
  'properties',
  'required',
  'additionalProperties',
  'propertyNames',
  'items',
  'prefixItems',
  'minItems',
  'maxItems',
  'oneOf',
  'anyOf',
  'allOf',
  '$defs',
];

/**
 * A copy with every object's keys in KEYWORDS order; the names under `properties` keep the order of
 * the zod source, and `$defs` are sorted by name. The same schemas always give the same bytes.
 */
function ordered(value: unknown, parentKey = ''): unknown {
  if (Array.isArray(value)) return value.map((item) => ordered(item));
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value);
  if (parentKey === 'properties') return Object.fromEntries(entries.map(([k, v]) => [k, ordered(v)]));
  if (parentKey === '$defs') entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  else entries.sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries.map(([k, v]) => [k, ordered(v, k)]));
}

function rank(key: string): number {
  const i = KEYWORDS.indexOf(key);
  return i === -1 ? KEYWORDS.length : i;
}

/** Writes every file and removes any other .json left in the directory (a shape renamed or dropped). */
function writeSchemas(): void {
  const files = renderSchemas();
  mkdirSync(SCHEMA_DIR, { recursive: true });
  for (const old of readdirSync(SCHEMA_DIR)) {
    if (old.endsWith('.json') && !files.has(old)) rmSync(join(SCHEMA_DIR, old));
  }
  for (const [name, text] of files) writeFileSync(join(SCHEMA_DIR, name), text);
  process.stdout.write(`wrote ${files.size} files to ${SCHEMA_DIR}\n`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) writeSchemas();
