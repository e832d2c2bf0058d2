/**
 * Runs a task once for a burst of requests: the command and event connections usually come back together
 * after an outage, and one resync serves both. A request made while one is pending joins it; `announce`
 * is true for the run when any request of the burst asked for it.
 *
 * @module
 */
export class Coalesced {
  #timer: NodeJS.Timeout | undefined;
  #announce = false;

  constructor(
    private readonly task: (announce: boolean) => Promise<void>,
    private readonly delayMs = 10,
  ) {}

  schedule(announce: boolean): void {
    this.#announce ||= announce;
    if (this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const announced = this.#announce;
      this.#announce = false;
      void this.task(announced);
    }, this.delayMs);
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
