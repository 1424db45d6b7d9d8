// The read, write and edit actions for one server: paths against the session cwd, permissions of
// the session user, one writer per file, and every failure as an error observation.
import type { EditArgs, ErrorObservation, Observation, ReadArgs, WriteArgs } from '@runtime-client/protocol';
import { FileAccess, type FileUser } from './access.js';
import { editAction } from './edit.js';
import { FileError, errorObservation, fromFsError } from './errors.js';
import { EditHistory } from './history.js';
import { KeyedLock } from './lock.js';
import { readAction } from './read.js';
import { writeAction } from './write.js';

export type { FileUser } from './access.js';

export class FileActions {
  private readonly access: FileAccess;
  private readonly lock = new KeyedLock();
  private readonly history = new EditHistory();

  /** `user`: the session user when the server (root) acts for another user; undefined otherwise. */
  constructor(user?: FileUser) {
    this.access = new FileAccess(user);
  }

  read(args: ReadArgs, cwd: string): Promise<Observation> {
    const path = this.access.resolve(cwd, args.path);
    return settle(path, () => readAction(this.access, path, args));
  }

  write(args: WriteArgs, cwd: string): Promise<Observation> {
    const path = this.access.resolve(cwd, args.path);
    return settle(path, () => this.lock.run(path, () => writeAction(this.access, path, args)));
  }

  edit(args: EditArgs, cwd: string): Promise<Observation> {
    const path = this.access.resolve(cwd, args.path);
    const task = () => editAction(this.access, this.history, path, args);
    return settle(path, args.command === 'view' ? task : () => this.lock.run(path, task));
  }
}

/** The observation of `task`, or an error observation for whatever it threw. */
async function settle(path: string, task: () => Promise<Observation>): Promise<Observation> {
  try {
    return await task();
  } catch (e) {
    const error: FileError = fromFsError(e, path);
    return errorObservation(error) satisfies ErrorObservation;
  }
}
