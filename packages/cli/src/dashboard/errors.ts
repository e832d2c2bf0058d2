/**
 * Errors the dashboard answers requests with: each has a stable `code` and the HTTP status the page sees.
 *
 * @module
 */
import { WakameError } from '@wakame/core';

/** A request the dashboard refuses; the body the page gets is `{ error: { code, message } }`. */
export class DashboardRequestError extends WakameError {
  override readonly name = 'DashboardRequestError';
  constructor(
    readonly code:
      | 'ERR_ACTIONS_DISABLED'
      | 'ERR_CROSS_ORIGIN'
      | 'ERR_BAD_HOST'
      | 'ERR_BAD_TOKEN'
      | 'ERR_BAD_REQUEST'
      | 'ERR_NOT_DEAD_LETTER_QUEUE'
      | 'ERR_NOT_FOUND',
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The dashboard could not start (the port is taken, the address cannot be bound). */
export class DashboardStartError extends WakameError {
  override readonly name = 'DashboardStartError';
  readonly code = 'ERR_DASHBOARD_START';
}
