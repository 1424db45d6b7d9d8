// The durability loop's victim (lifecycle-durability.test.ts): opens the Lifecycle on a state dir
// over process-driver sandboxes, then starts, pauses, resumes, renews and stops runtimes of a few
// sessions at random, forever, until the test kills it with SIGKILL. Each operation is printed as
// a JSON line before it is asked for ("intent") and once it has answered ("done"); stdout is a pipe,
// written synchronously, so a line printed is a line the test reads.
//   node --import tsx test/control/lifecycle-child.ts <root> <seed> process|docker
import { openLifecycle } from '../../control/lifecycle/lifecycle.js';
import { durabilitySetup, warmOf, type DriverKind } from './lifecycle-durability-options.js';

const [root, seedText, kind] = process.argv.slice(2);
let seed = Number(seedText) >>> 0 || 1;
/** xorshift32: the run can be replayed from its seed. */
function random(): number {
  seed ^= seed << 13;
  seed ^= seed >>> 17;
  seed ^= seed << 5;
  return (seed >>> 0) / 2 ** 32;
}
const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)];
const say = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const { driver, image, options } = durabilitySetup(kind as DriverKind, root);
const lifecycle = await openLifecycle(driver, { ...options, warm: warmOf(image) });
say({ op: 'open', reconciled: lifecycle.reconciled });

const sessions = ['s0', 's1', 's2', 's3', 's4'];
for (;;) {
  const session = pick(sessions);
  const live = lifecycle.bySession(session);
  const runtimeId = live && live.status !== 'stopped' ? live.runtimeId : undefined;
  const op = runtimeId ? pick(['pause', 'resume', 'stop', 'renew', 'start']) : 'start';
  const ttlSeconds = 1000 + Math.floor(random() * 2000);
  say({ phase: 'intent', op, session, runtimeId });
  try {
    const r =
      op === 'start'
        ? await lifecycle.start({ image, sessionId: session, ttlSeconds })
        : op === 'pause'
          ? await lifecycle.pause(runtimeId!)
          : op === 'resume'
            ? await lifecycle.resume(runtimeId!)
            : op === 'stop'
              ? await lifecycle.stop(runtimeId!)
              : lifecycle.renew(runtimeId!, ttlSeconds);
    say({ phase: 'done', op, session, runtimeId: r.runtimeId, status: r.status, expiresAt: r.expiresAt });
  } catch (e) {
    say({ phase: 'error', op, session, runtimeId, code: (e as { code?: string }).code, message: (e as Error).message });
  }
}
