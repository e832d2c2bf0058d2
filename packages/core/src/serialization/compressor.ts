/**
 * The shape of a compression method, apart from the registry so that codec files can implement it
 * without importing the registry that registers them.
 *
 * @module
 */

/** A compression method. */
export interface Compressor {
  /** Registry name, e.g. `'zlib'`. */
  readonly name: string;
  /** Value of the `compression` message header, e.g. `'application/x-gzip'`. */
  readonly contentType: string;
  /** Other names the method can be looked up by, e.g. `['br']`. */
  readonly aliases: readonly string[];
  /** Compresses `body`. */
  compress(body: Buffer): Buffer;
  /**
   * Decompresses `body`, stopping as soon as the output would exceed `maxOutputBytes`.
   *
   * @throws {@link PayloadTooLargeError} when the output would exceed `maxOutputBytes`
   * @throws {@link DecodeError} when `body` is not valid compressed data
   */
  decompress(body: Buffer, maxOutputBytes: number): Buffer;
}
