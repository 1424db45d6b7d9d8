// Sending file actions to a test server.
import { expect } from 'vitest';
import type { TestServer } from '../../helpers/server.js';

/** Sends one action and returns the observation; a file action never answers with an HTTP error. */
export async function act(server: TestServer, action: string, args: Record<string, unknown>): Promise<any> {
  const { status, body } = await server.execute({ action, args });
  expect(status, JSON.stringify(body)).toBe(200);
  return body;
}

/** Expects an error observation with this error_id and a content matching `message`. */
export function expectError(obs: any, errorId: string, message?: string | RegExp): void {
  expect(obs.observation, JSON.stringify(obs)).toBe('error');
  expect(obs.success).toBe(false);
  expect(obs.extras.error_id).toBe(errorId);
  if (typeof message === 'string') expect(obs.content).toBe(message);
  else if (message) expect(obs.content).toMatch(message);
}
