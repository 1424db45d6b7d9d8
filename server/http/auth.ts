// X-Session-API-Key checking, constant-time.
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** A checker for `key`; with no key configured every request passes. */
export function keyChecker(key: string | undefined): (given: unknown) => boolean {
  if (!key) return () => true;
  const expected = digest(key);
  return (given) => typeof given === 'string' && timingSafeEqual(digest(given), expected);
}
