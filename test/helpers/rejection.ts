// The RuntimeError a promise rejects with (failing the test when it resolves or throws anything else).
import { expect } from 'vitest';
import { RuntimeError } from '../../client/index.js';

export async function rejection(promise: Promise<unknown>): Promise<RuntimeError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RuntimeError);
  return error as RuntimeError;
}
