/**
 * Splits the byte stream of a beanstalkd connection into replies. TCP hands over arbitrary slices: a
 * reply line, or the job body that follows it, may arrive in several chunks or many replies in one, so
 * the parser keeps what it has not used yet and yields only whole replies.
 *
 * @module
 */

/** One reply of the server: its first line, split into words, and the data block that follows some replies. */
export interface Reply {
  /** The status word, e.g. `INSERTED`, `RESERVED`, `NOT_FOUND`. */
  readonly status: string;
  /** The words after the status (ids, byte counts). */
  readonly args: readonly string[];
  /** The data of `RESERVED`, `FOUND` and `OK` replies: a job body or a YAML document. */
  readonly data?: Buffer;
}

const CRLF = Buffer.from('\r\n');
/** Replies whose last word is the length of a data block that follows the line. */
const WITH_DATA: ReadonlySet<string> = new Set(['RESERVED', 'FOUND', 'OK']);
/** A reply line longer than this is not beanstalkd talking (its longest line is well under 100 bytes). */
const MAX_LINE = 1024;

/** A reply that cannot be read: the stream is not beanstalkd's protocol (or is out of step with it). */
export class ProtocolViolation extends Error {
  override readonly name = 'ProtocolViolation';
}

/** Incremental reply reader: {@link ReplyParser.push} each chunk, get back the replies it completed. */
export class ReplyParser {
  #buffer: Buffer = Buffer.alloc(0);

  /** Adds `chunk` and returns the replies completed by it, in order (possibly none). */
  push(chunk: Buffer): Reply[] {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const replies: Reply[] = [];
    let offset = 0;
    for (;;) {
      const end = this.#buffer.indexOf(CRLF, offset);
      if (end < 0) {
        if (this.#buffer.length - offset > MAX_LINE) throw new ProtocolViolation('reply line too long');
        break;
      }
      const words = this.#buffer.toString('latin1', offset, end).split(' ');
      const status = words[0] ?? '';
      const args = words.slice(1);
      if (!WITH_DATA.has(status)) {
        replies.push({ status, args });
        offset = end + 2;
        continue;
      }
      const length = Number(args[args.length - 1]);
      if (!Number.isSafeInteger(length) || length < 0) throw new ProtocolViolation(`bad data length in '${status}'`);
      const start = end + 2;
      // The block and its CRLF must be complete; otherwise wait for more without consuming the line.
      if (this.#buffer.length < start + length + 2) break;
      if (this.#buffer[start + length] !== 13 || this.#buffer[start + length + 1] !== 10) {
        throw new ProtocolViolation(`data block of '${status}' not followed by CRLF`);
      }
      // A copy, so a caller keeping the body does not pin the whole receive buffer.
      replies.push({ status, args, data: Buffer.from(this.#buffer.subarray(start, start + length)) });
      offset = start + length + 2;
    }
    this.#buffer = offset === 0 ? this.#buffer : this.#buffer.subarray(offset);
    return replies;
  }
}

/** Reads beanstalkd's flat YAML dictionaries (`stats-tube`, `stats-job`): `key: value` lines after `---`. */
export function parseYamlDict(data: Buffer): Record<string, string> {
  const dict: Record<string, string> = {};
  for (const line of data.toString('utf8').split('\n')) {
    const colon = line.indexOf(': ');
    if (colon > 0) dict[line.slice(0, colon).trim()] = line.slice(colon + 2).trim();
  }
  return dict;
}

/** Reads beanstalkd's YAML lists (`list-tubes`): `- item` lines after `---`. */
export function parseYamlList(data: Buffer): string[] {
  return data
    .toString('utf8')
    .split('\n')
    .filter((line) => line.startsWith('- '))
    .map((line) => line.slice(2).trim());
}
