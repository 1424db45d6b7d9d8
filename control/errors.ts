// The control plane's one base error: every failure it throws carries a string `code` (the codes
// are on the README's Error codes page). The HTTP layer answers each with its status.
export class ControlError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}
