// Encoding and decoding failures: unknown or missing codecs, refused content types, oversized bodies.

import { WakameError } from './wakame-error.js';

/** Base of encoding/decoding failures. */
export class SerializationError extends WakameError {
  override readonly name: string = 'SerializationError';
  readonly code: string = 'ERR_SERIALIZATION';
}

/** A body could not be serialized or compressed. */
export class EncodeError extends SerializationError {
  override readonly name = 'EncodeError';
  override readonly code = 'ERR_ENCODE';
}

/** A body could not be decompressed or deserialized. */
export class DecodeError extends SerializationError {
  override readonly name: string = 'DecodeError';
  override readonly code: string = 'ERR_DECODE';
}

/** kombu's content type for Python pickle, which no Wakame serializer decodes. */
const PICKLE_CONTENT_TYPE = 'application/x-python-serialize';

/** A message's content type is not in the consumer's `accept` whitelist. */
export class ContentNotAcceptedError extends DecodeError {
  override readonly name = 'ContentNotAcceptedError';
  override readonly code = 'ERR_CONTENT_NOT_ACCEPTED';
  constructor(
    readonly contentType: string,
    readonly accepted: readonly string[],
  ) {
    super(
      `refusing to decode content type '${contentType || '(none)'}': accepted are ${accepted.join(', ') || '(nothing)'}${
        contentType === PICKLE_CONTENT_TYPE
          ? " (pickle runs code from the message and is never decoded: have the sender use serializer='json')"
          : ''
      }`,
    );
  }
}

/** A serializer or compression name (or content type) that is not registered. */
export class UnknownSerializerError extends SerializationError {
  override readonly name = 'UnknownSerializerError';
  override readonly code = 'ERR_UNKNOWN_SERIALIZER';
}

/**
 * A compression method whose codec is an optional dependency that is not installed (bzip2, lzma/xz
 * and zstd ship as optional dependencies of `@wakame/core`). The message ends with the command that
 * installs it.
 */
export class CompressionNotInstalledError extends SerializationError {
  override readonly name = 'CompressionNotInstalledError';
  override readonly code = 'ERR_COMPRESSION_NOT_INSTALLED';
  /** The command that installs {@link CompressionNotInstalledError.packages}, e.g. `npm install seek-bzip`. */
  readonly installCommand: string;
  constructor(
    readonly compression: string,
    readonly packages: readonly string[],
    options?: ErrorOptions,
  ) {
    const installCommand = `npm install ${packages.join(' ')}`;
    super(
      `${compression} compression needs ${packages.join(' and ')}, which could not be loaded; install it: ${installCommand}`,
      options,
    );
    this.installCommand = installCommand;
  }
}

/** A body larger than the configured bound (before or after decompression). */
export class PayloadTooLargeError extends SerializationError {
  override readonly name = 'PayloadTooLargeError';
  override readonly code = 'ERR_PAYLOAD_TOO_LARGE';
  constructor(
    readonly size: number,
    readonly limit: number,
    what = 'message body',
  ) {
    super(`${what} of ${size} bytes exceeds the limit of ${limit} bytes`);
  }
}
