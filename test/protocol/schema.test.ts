// protocol/schema/*.json is the JSON Schema of every top-level wire shape, generated from the zod
// schemas by `npm run schema`; this test renders them again in memory and fails on any difference.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderSchemas, SCHEMA_COMMAND, SCHEMA_DIR } from '../../scripts/protocol-schema.js';
import { WIRE_SHAPES } from '../../protocol/shapes.js';

const rendered = renderSchemas();

describe('protocol/schema', () => {
  it('has one file per top-level wire shape', () => {
    expect([...rendered.keys()].sort()).toEqual(Object.keys(WIRE_SHAPES).map((name) => `${name}.json`).sort());
    for (const name of ['ExecuteRequest', 'Observation', 'ErrorBody', 'Alive', 'ServerInfo', 'SessionList', 'SessionEnded', 'SessionInfo', 'UploadQuery', 'UploadResult', 'DownloadQuery', 'ListFilesRequest', 'ListFilesResult', 'ClientFrame', 'ServerFrame']) {
      expect(rendered.has(`${name}.json`), name).toBe(true);
    }
  });

  it.each([...rendered.keys()])('%s is checked in and up to date', (file) => {
    const path = join(SCHEMA_DIR, file);
    if (!existsSync(path)) expect.fail(`protocol/schema/${file} is missing; run \`${SCHEMA_COMMAND}\` and commit it`);
    if (readFileSync(path, 'utf8') !== rendered.get(file)) expect.fail(`protocol/schema/${file} is stale (the zod schemas changed); run \`${SCHEMA_COMMAND}\` and commit it`);
  });

  it('holds no file of a shape that no longer exists', () => {
    const extra = readdirSync(SCHEMA_DIR).filter((f) => f.endsWith('.json') && !rendered.has(f));
    if (extra.length) expect.fail(`protocol/schema/ has ${extra.join(', ')}, which no shape renders; run \`${SCHEMA_COMMAND}\` (it removes them) and commit`);
  });

  it('renders the same bytes twice (stable key order)', () => {
    expect(renderSchemas()).toEqual(rendered);
  });

  it('states the wire facts: the output_gap code with its seqs, meta.still_running, the error codes as an enum', () => {
    const server = JSON.parse(rendered.get('ServerFrame.json')!);
    expect(server.$defs.OutputGapError.properties.code.const).toBe('output_gap');
    expect(server.$defs.OutputGap.required).toEqual(['from_seq', 'first_seq']);
    expect(server.description).toContain('4401');
    const observation = JSON.parse(rendered.get('Observation.json')!);
    expect(observation.$defs.RunMeta.required).toEqual(['still_running', 'refused']);
    expect(Object.keys(observation.$defs.RunObservation.properties.extras.properties)).toEqual(['command', 'hidden', 'metadata']);
    expect(Object.keys(observation.$defs.ReadObservation.properties.extras.properties)).toEqual(['path', 'impl_source']);
    const error = JSON.parse(rendered.get('ErrorBody.json')!);
    expect(error.$defs.ErrorCode.enum).toEqual(['bad_request', 'unauthorized', 'not_found', 'request_timeout', 'conflict', 'payload_too_large', 'internal', 'unavailable', 'not_configured', 'already_configured']);
    expect(error.description).toContain('output_gap: ');
  });
});
