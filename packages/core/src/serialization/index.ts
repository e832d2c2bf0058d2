/**
 * Serialization and compression of message bodies, wire-compatible with Python kombu.
 *
 * @module
 */

export {
  builtinSerializers,
  jsonSerializer,
  msgpackSerializer,
  rawSerializer,
  textSerializer,
  yamlSerializer,
} from './builtin-serializers.js';
export type { CompressedBody, Compressor } from './compression.js';
export {
  brotliCompressor,
  builtinCompressors,
  CompressionRegistry,
  compressors,
  createCompressionRegistry,
  deflateCompressor,
  gzipCompressor,
  zlibCompressor,
} from './compression.js';
export {
  bzip2Compressor,
  lzmaCompressor,
  optionalCompressors,
  zstdCompressor,
} from './optional-compressors.js';
export type { EncodedBody, EncodeOptions, Serializer } from './serializers.js';
export { createSerializerRegistry, SerializerRegistry, serializers } from './serializers.js';
