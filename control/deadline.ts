// Waiting on a call to a sandbox's server with a plain timer beside the call's abort signal: under
// a loaded engine a start once waited minutes for an /alive probe whose signal had fired (a
// connection the engine's port proxy accepted never answered), so each such wait ends on a timer
// of its own too.

/** `work`'s outcome, or the error `late()` gives once `ms` have passed, whichever comes first. */
export async function withDeadline<T>(work: Promise<T>, ms: number, late: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late()), ms);
  });
  work.catch(() => {}); // its rejection after the deadline is nobody's
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
