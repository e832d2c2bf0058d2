/**
 * The serializer contract, on its own so that the registry and the built-in serializers both
 * import it without importing each other.
 *
 * @module
 */

/** Converts values to message bodies and back for one content type. */
export interface Serializer {
  /** Registry name, e.g. `'json'`. Must not contain `'/'`, which marks content types. */
  readonly name: string;
  /** MIME type written to the `content_type` header, e.g. `'application/json'`. */
  readonly contentType: string;
  /** Value of the `content_encoding` header: a charset such as `'utf-8'`, or `'binary'`. */
  readonly contentEncoding: string;
  /** Serializes `value`; throws {@link EncodeError} when it cannot. */
  encode(value: unknown): Buffer;
  /** Deserializes `body`; throws {@link DecodeError} when it cannot. */
  decode(body: Buffer): unknown;
}
