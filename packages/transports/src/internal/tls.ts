/**
 * TLS options every transport takes the same way, in the connection's `transportOptions`: the
 * certificates of a private CA, a client certificate for mutual TLS, and the name to verify.
 */
import { isIP } from 'node:net';
import type { BrokerUrl } from '@wakame/core/spi';

/** TLS material for `amqps://` and `rediss://` URLs. */
export interface TlsOptions {
  /** CA certificate(s) (PEM) to trust besides the system's. */
  readonly ca?: string | Buffer | (string | Buffer)[];
  /** Client certificate and key (PEM), for brokers that authenticate clients by certificate. */
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly passphrase?: string;
  /** The name the server certificate must carry. @defaultValue the URL's host */
  readonly servername?: string;
  /** @defaultValue `true` */
  readonly rejectUnauthorized?: boolean;
}

/** Node's `tls.connect` options for `url` from `options` (only the ones given, plus verification on). */
export function tlsConnectOptions(url: BrokerUrl, options: TlsOptions) {
  return {
    ...(options.ca !== undefined ? { ca: options.ca } : {}),
    ...(options.cert !== undefined ? { cert: options.cert } : {}),
    ...(options.key !== undefined ? { key: options.key } : {}),
    ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
    // SNI carries host names only (RFC 6066): an IP address is verified against the certificate's IP SANs.
    ...(options.servername !== undefined || !isIP(url.hostname)
      ? { servername: options.servername ?? url.hostname }
      : {}),
    rejectUnauthorized: options.rejectUnauthorized ?? true,
  };
}
