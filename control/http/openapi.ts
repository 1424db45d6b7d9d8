// GET /openapi.json: an OpenAPI 3.1 document of the routes in routes.ts, its schemas generated
// from the zod schemas of protocol/runtime-api.ts with z.toJSONSchema (one component per schema).
import * as z from 'zod';
import { BuildStatus, PodStatus, RuntimeListEntry, RuntimeStatus } from '@runtime-client/protocol';
import { CONTROL_API_ERRORS, ControlErrorBody } from './errors.js';
import { ROUTES } from './routes.js';

const ref = (schema: z.ZodType) => ({ $ref: `#/components/schemas/${idOf(schema)}` });

function idOf(schema: z.ZodType): string {
  const id = (z.globalRegistry.get(schema) as { id?: string } | undefined)?.id;
  if (!id) throw new Error('openapi: a schema of routes.ts has no .meta({id})');
  return id;
}

/** The document; `version` is the service's. */
export function openApiDocument(version: string): object {
  const registry = z.registry<{ id: string }>();
  // The schemas with an id that the routes' schemas hold: each becomes a component too.
  const schemas = new Set<z.ZodType>([ControlErrorBody, PodStatus, RuntimeStatus, BuildStatus, RuntimeListEntry]);
  for (const r of ROUTES) for (const s of [r.query, r.body, r.multipart, r.response]) if (s) schemas.add(s);
  for (const s of schemas) registry.add(s, { id: idOf(s) });
  const components = z.toJSONSchema(registry, { uri: (id) => `#/components/schemas/${id}`, unrepresentable: 'any', io: 'input' }).schemas;
  for (const schema of Object.values(components)) delete (schema as { $schema?: string }).$schema;

  const paths: Record<string, Record<string, object>> = {};
  for (const r of ROUTES) {
    const path = r.path.replace(/:(\w+)/g, '{$1}');
    const parameters: object[] = [...r.path.matchAll(/:(\w+)/g)].map(([, name]) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
    if (r.query) {
      for (const [name, field] of Object.entries(r.query.shape)) {
        const fieldSchema = z.toJSONSchema(field as z.ZodType, { unrepresentable: 'any', io: 'input' });
        delete (fieldSchema as { $schema?: string }).$schema;
        parameters.push({ name, in: 'query', required: !(field as z.ZodType).safeParse(undefined).success, schema: fieldSchema });
      }
    }
    const errors: Record<string, object> = {};
    for (const { status } of Object.values(CONTROL_API_ERRORS)) {
      const codes = Object.entries(CONTROL_API_ERRORS).filter(([, e]) => e.status === status).map(([code]) => code);
      errors[String(status)] = { description: codes.join(', '), content: { 'application/json': { schema: ref(ControlErrorBody) } } };
    }
    paths[path] ??= {};
    paths[path][r.method] = {
      summary: r.summary,
      operationId: `${r.method}_${path.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '')}`,
      ...(r.auth ? {} : { security: [] }),
      ...(parameters.length ? { parameters } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: ref(r.body) } } } } : {}),
      ...(r.multipart ? { requestBody: { required: true, content: { 'multipart/form-data': { schema: ref(r.multipart) } } } } : {}),
      responses: {
        [String(r.status ?? 200)]: {
          description: 'success',
          content: r.response ? { 'application/json': { schema: ref(r.response) } } : { [r.contentType ?? 'text/plain']: { schema: { type: 'string' } } },
        },
        ...errors,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'runtime-client runtime API', version, description: 'RUNTIME-API.md: starts, tracks, limits and reaps runtimes; /r/{runtime_id}/... reaches a runtime\'s own server (PROTOCOL.md).' },
    components: { schemas: components, securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } } },
    security: [{ apiKey: [] }],
    paths,
  };
}
