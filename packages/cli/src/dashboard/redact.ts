/**
 * The dashboard's last line of defence for credentials: every body it sends passes through a
 * {@link Redactor} that knows the secrets of the URLs it was started with (broker passwords,
 * management credentials, worker URL credentials). The responses are built from redacted URLs
 * already; this catches what the broker or a driver may echo back in an error message.
 *
 * @module
 */

/** Replaces each known secret with `****` in text sent to the browser. */
export class Redactor {
  readonly #secrets: string[];

  /** `urls`: every URL the dashboard was given (failover lists split on `;` or `,`). */
  constructor(urls: readonly (string | undefined)[]) {
    const secrets = new Set<string>();
    for (const list of urls) {
      for (const url of (list ?? '').split(/[;,]/)) {
        for (const secret of secretsOf(url.trim())) secrets.add(secret);
      }
    }
    // Longest first, so that a secret containing another is replaced whole.
    this.#secrets = [...secrets].filter((s) => s.length > 0).sort((a, b) => b.length - a.length);
  }

  redact(text: string): string {
    let result = text;
    for (const secret of this.#secrets) result = result.split(secret).join('****');
    return result;
  }
}

/** The password (raw and percent-decoded) of a URL; nothing for a URL without one or that does not parse. */
function secretsOf(url: string): string[] {
  const match = /^[a-z][a-z0-9+.-]*:\/\/[^/@]*?:([^/@]+)@/i.exec(url);
  const raw = match?.[1];
  if (raw === undefined) return [];
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // A malformed escape: the raw text is what would be echoed.
  }
  return [raw, decoded];
}

/** A URL without its user information (`http://user:pw@host:1/` → `http://host:1/`), for display. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.href.replace(/\/$/, '');
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}
