// Tests run the workspace packages from their TypeScript sources: `@runtime-client/x` resolves to
// x/index.ts (and `@runtime-client/server/main` to server/main.ts), not to a build in x/dist.
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('.', import.meta.url));

export const workspaceAlias = [
  { find: /^@runtime-client\/server\/main$/, replacement: `${root}server/main.ts` },
  { find: /^@runtime-client\/(protocol|http-kit|archive|server|dockerfiles|client|control|cli)$/, replacement: `${root}$1/index.ts` },
];
