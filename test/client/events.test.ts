// EventStream: order, back-pressure and the runtime subscriber; unit tests, then a real server.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RuntimeError } from '../../client/errors.js';
import { connectRuntime, EventStream, EventStreamClosedError, type ActionExecutor, type StreamEvent } from '../../client/events.js';
import { RuntimeClient } from '../../client/runtime-client.js';
import type { ActionInput, Observation } from '../../client/types.js';
import { KEY, startServer, type TestServer } from '../helpers/server.js';

const run = (command: string): ActionInput => ({ action: 'run', args: { command } });
const say = (stream: EventStream, text: string) => stream.publish({ kind: 'action', source: 'agent', action: run(text) });
const commandOf = (e: StreamEvent) => (e.kind === 'action' ? e.action.args.command : undefined);
/** Lets every pending promise callback run. */
const settle = () => sleep(5);

describe('EventStream', () => {
  it('gives every event a seq from 0, an id and a timestamp, and every subscriber the same order', async () => {
    const stream = new EventStream();
    const seen: StreamEvent[] = [];
    stream.subscribe((e) => void seen.push(e));
    const iterated = stream.subscribe();
    const published = await Promise.all(['a', 'b', 'c'].map((t) => say(stream, t)));
    expect(published.map((e) => e.seq)).toEqual([0, 1, 2]);
    expect(new Set(published.map((e) => e.id)).size).toBe(3);
    expect(published[0].timestamp).toMatch(/^\d{4}-\d\d-\d\dT/);
    const viaIterator: StreamEvent[] = [];
    for await (const e of iterated) {
      viaIterator.push(e);
      if (viaIterator.length === 3) break;
    }
    expect(viaIterator.map(commandOf)).toEqual(['a', 'b', 'c']);
    await settle();
    expect(seen).toEqual(viaIterator);
    expect(iterated.isActive).toBe(false); // break ends the subscription
  });

  it('keeps an id the publisher gives', async () => {
    const stream = new EventStream();
    expect((await stream.publish({ kind: 'action', source: 'user', action: run('x'), id: 'step-1' })).id).toBe('step-1');
  });

  it('only sends events published after subscribe()', async () => {
    const stream = new EventStream();
    await say(stream, 'before');
    const sub = stream.subscribe();
    await say(stream, 'after');
    expect(sub.pending).toBe(1);
  });

  it('makes publish() wait while a queue is full, and never lets it grow past the limit', async () => {
    const stream = new EventStream();
    const sub = stream.subscribe({ limit: 3 });
    for (const t of ['1', '2', '3']) await say(stream, t);
    let fourth = false;
    const p4 = say(stream, '4').then(() => (fourth = true));
    await settle();
    expect(fourth).toBe(false);
    expect(sub.pending).toBe(3);
    const it = sub[Symbol.asyncIterator]();
    expect(commandOf((await it.next()).value)).toBe('1');
    await p4;
    expect(sub.pending).toBe(3);
    expect(sub.peakPending).toBe(3);
  });

  it('delivers events published without awaiting in call order, even while blocked', async () => {
    const stream = new EventStream();
    const sub = stream.subscribe({ limit: 2 });
    const all = Promise.all(Array.from({ length: 20 }, (_, i) => say(stream, String(i))));
    await settle();
    expect([sub.pending, sub.blockedPublishes]).toEqual([2, 18]);
    const got: string[] = [];
    for await (const e of sub) {
      expect(sub.pending).toBeLessThanOrEqual(2);
      got.push(commandOf(e) as string);
      if (got.length === 20) break;
    }
    await all;
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(sub.peakPending).toBe(2);
  });

  it('bounds memory with a slow handler: the publisher waits for it', async () => {
    const stream = new EventStream({ queueLimit: 4 });
    let taken = 0;
    const slow = stream.subscribe(async () => {
      taken++;
      await sleep(2);
    });
    for (let i = 0; i < 60; i++) {
      const e = await say(stream, String(i));
      expect(slow.pending).toBeLessThanOrEqual(4);
      expect(taken).toBeGreaterThanOrEqual(e.seq + 1 - 4);
    }
    expect(slow.peakPending).toBe(4);
  });

  it('lets a filtered-out event pass a full queue', async () => {
    const stream = new EventStream();
    const actions = stream.subscribe({ limit: 1, filter: (e) => e.kind === 'action' });
    await say(stream, 'one');
    for (let i = 0; i < 5; i++) await stream.publish({ kind: 'observation', source: 'runtime', observation: errorObs('x'), cause: 'c' });
    expect(actions.pending).toBe(1);
  });

  it('frees a blocked publisher when the full subscriber unsubscribes', async () => {
    const stream = new EventStream();
    const stuck = stream.subscribe({ limit: 1 });
    await say(stream, 'a');
    const p = say(stream, 'b');
    await settle();
    stuck.unsubscribe();
    await expect(p).resolves.toMatchObject({ seq: 1 });
    expect(stuck.pending).toBe(0);
    expect(stream.subscriptions).toEqual([]);
    await expect(stuck.done).resolves.toBeUndefined();
  });

  it('ends a subscription whose handler throws, rejects its done, and keeps the stream going', async () => {
    const stream = new EventStream();
    const bad = stream.subscribe(
      (e) => {
        if (e.seq === 1) throw new Error('boom');
      },
      { limit: 1 },
    );
    const good: number[] = [];
    stream.subscribe((e) => void good.push(e.seq));
    for (let i = 0; i < 5; i++) await say(stream, String(i));
    await expect(bad.done).rejects.toThrow('boom');
    expect(bad.isActive).toBe(false);
    await settle();
    expect(good).toEqual([0, 1, 2, 3, 4]);
  });

  it('close() delivers what was published, ends the iterators and refuses more', async () => {
    const stream = new EventStream();
    const sub = stream.subscribe({ limit: 2 });
    const handled: number[] = [];
    stream.subscribe(async (e) => {
      await sleep(5);
      handled.push(e.seq);
    });
    const publishes = [say(stream, 'a'), say(stream, 'b'), say(stream, 'c')];
    const got: number[] = [];
    const reading = (async () => {
      for await (const e of sub) got.push(e.seq);
    })();
    await stream.close();
    await Promise.all(publishes);
    await reading;
    expect(got).toEqual([0, 1, 2]);
    expect(handled).toEqual([0, 1, 2]);
    await expect(say(stream, 'd')).rejects.toBeInstanceOf(EventStreamClosedError);
    expect(() => stream.subscribe()).toThrow(EventStreamClosedError);
  });

  it('close() does not wait for a subscriber nobody reads when its queue is empty', async () => {
    const stream = new EventStream();
    const idle = stream.subscribe();
    await stream.close();
    expect(idle.isActive).toBe(false);
  });

  it('refuses a second consumer and a bad limit', () => {
    const stream = new EventStream();
    const sub = stream.subscribe();
    sub[Symbol.asyncIterator]();
    expect(() => sub[Symbol.asyncIterator]()).toThrow('subscription subscriber-0 is already being consumed');
    expect(() => stream.subscribe({ limit: 0 })).toThrow(new TypeError('limit must be an integer of at least 1, got 0'));
    expect(() => new EventStream({ queueLimit: 1.5 })).toThrow(new TypeError('queueLimit must be an integer of at least 1, got 1.5'));
  });
});

/** A runtime without a server: answers `echo X` with X after a short delay. */
class EchoRuntime implements ActionExecutor {
  readonly calls: { command: unknown; id?: string }[] = [];
  async execute(action: ActionInput, options: { id?: string }): Promise<Observation> {
    this.calls.push({ command: action.args.command, id: options.id });
    await sleep(1);
    if (action.args.command === 'fail') throw new RuntimeError('bad_action', 'refused by the server');
    return runObs(String(action.args.command), 0);
  }
}

describe('connectRuntime (no server)', () => {
  it('runs actions in order, one answer each, with cause = action id, without waiting on its own queue', async () => {
    const stream = new EventStream({ queueLimit: 2 });
    const runtime = new EchoRuntime();
    connectRuntime(stream, runtime);
    const observations = stream.subscribe({ filter: (e) => e.kind === 'observation', limit: 100 });
    const actions = await Promise.all(['a', 'fail', 'b', 'c', 'd', 'e'].map((t) => say(stream, t)));
    const got: StreamEvent[] = [];
    for await (const e of observations) if (got.push(e) === actions.length) break;
    expect(got.map((e) => e.cause)).toEqual(actions.map((a) => a.id));
    expect(runtime.calls.map((c) => c.id)).toEqual(actions.map((a) => a.id));
    expect(got.every((e) => e.kind === 'observation' && e.source === 'runtime')).toBe(true);
    const failed = got[1].kind === 'observation' ? got[1].observation : undefined;
    expect(failed).toEqual({ observation: 'error', content: 'ERROR: refused by the server', extras: { error_id: 'bad_action' }, success: false });
  });
});

describe('an agent, a runtime, a logger and a slow UI on one stream (real server)', () => {
  let server: TestServer;
  let client: RuntimeClient;
  beforeAll(async () => {
    server = await startServer();
    client = new RuntimeClient({ url: server.url, apiKey: KEY });
  });
  afterAll(async () => {
    await client?.close();
    await server?.stop();
  });

  /** 10 rounds of 5 steps: cd into a new directory, export, echo the variable, an exit code, pwd. */
  function script(dir: string): { command: string; check: (obs: Observation) => void }[] {
    const steps: { command: string; check: (obs: Observation) => void }[] = [];
    const meta = (obs: Observation) => {
      if (obs.observation !== 'run') throw new Error(`not a run observation: ${JSON.stringify(obs)}`);
      return { ...obs.extras.metadata, content: obs.content };
    };
    for (let k = 0; k < 10; k++) {
      steps.push(
        { command: `mkdir -p ${dir}/d${k} && cd ${dir}/d${k}`, check: (o) => expect(meta(o)).toMatchObject({ exit_code: 0, working_dir: `${dir}/d${k}` }) },
        { command: `export STEP=round-${k}`, check: (o) => expect(meta(o).exit_code).toBe(0) },
        { command: 'echo "step=$STEP"', check: (o) => expect(meta(o)).toMatchObject({ exit_code: 0, content: `step=round-${k}\n` }) },
        { command: `(exit ${k})`, check: (o) => expect(meta(o).exit_code).toBe(k) },
        { command: 'pwd', check: (o) => expect(meta(o)).toMatchObject({ exit_code: 0, content: `${dir}/d${k}\n` }) },
      );
    }
    return steps;
  }

  it('runs 50 actions in order, each observation caused by its action; every subscriber sees one order', async () => {
    const LIMIT = 3;
    const stream = new EventStream({ queueLimit: 8 });
    const log: StreamEvent[] = [];
    const logger = stream.subscribe((e) => void log.push(e), { name: 'logger' });
    let slowTaken = 0;
    const slowSeen: StreamEvent[] = [];
    const slow = stream.subscribe(
      async (e) => {
        slowTaken++;
        slowSeen.push(e);
        await sleep(10);
      },
      { name: 'ui', limit: LIMIT },
    );
    const runtime = connectRuntime(stream, client);
    const agentInbox = stream.subscribe({ name: 'agent', filter: (e) => e.kind === 'observation' });

    const steps = script(`/tmp/rc-events-${process.pid}-${Date.now()}`);
    const published: StreamEvent[] = [];
    const publishing = (async () => {
      for (const step of steps) {
        const event = await stream.publish({ kind: 'action', source: 'agent', action: run(step.command) });
        published.push(event);
        // The slow UI holds at most LIMIT events: the agent waited until it had taken the rest.
        expect(slow.pending).toBeLessThanOrEqual(LIMIT);
        expect(slowTaken).toBeGreaterThanOrEqual(event.seq + 1 - LIMIT);
      }
    })();
    const observations: StreamEvent[] = [];
    for await (const e of agentInbox) if (observations.push(e) === steps.length) break;
    await publishing;

    expect(observations.map((o) => o.cause)).toEqual(published.map((a) => a.id));
    observations.forEach((o, i) => {
      expect(o).toMatchObject({ kind: 'observation', source: 'runtime' });
      if (o.kind === 'observation') steps[i].check(o.observation);
    });
    expect(observations.map((o) => o.seq)).toEqual([...observations.map((o) => o.seq)].sort((a, b) => a - b));

    await stream.close();
    await Promise.all([logger.done, slow.done, runtime.done]);
    expect(log.map((e) => e.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(slowSeen.map((e) => e.id)).toEqual(log.map((e) => e.id));
    // Each observation comes after its action in the one order everybody saw.
    const position = new Map(log.map((e, i) => [e.id, i]));
    for (const e of log) if (e.kind === 'observation') expect(position.get(e.cause)!).toBeLessThan(position.get(e.id)!);
    expect(slow.peakPending).toBeLessThanOrEqual(LIMIT);
    expect(slow.peakPending).toBe(LIMIT); // it did fill up: the publishers waited on it
    // The server ran each action once, in order, under the event's id.
    const mine = new Set(published.map((a) => a.id));
    const ran = () => server.logs.filter((l) => l.msg === 'action' && mine.has(l.id as string)).map((l) => l.id);
    for (let i = 0; i < 100 && ran().length < published.length; i++) await sleep(20); // log lines trail the answers
    expect(ran()).toEqual(published.map((a) => a.id));
  });
});

function runObs(content: string, exitCode: number): Observation {
  const metadata = { exit_code: exitCode, pid: -1, username: null, hostname: null, working_dir: null, py_interpreter_path: null, prefix: '', suffix: '' };
  return { observation: 'run', content, extras: { command: content, hidden: false, metadata }, success: exitCode === 0 };
}
function errorObs(content: string): Observation {
  return { observation: 'error', content, extras: { error_id: 'x' }, success: false };
}
