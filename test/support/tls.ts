import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface SelfSignedCert {
  certFile: string;
  keyFile: string;
}

export interface CertOptions {
  /** Common name of the subject. */
  commonName?: string;
  /** The subjectAltName extension, e.g. `IP:127.0.0.1` or `DNS:localhost`. */
  altName?: string;
  /** Start of the file names, so that one folder can hold several certificates. */
  filePrefix?: string;
}

/**
 * Makes a self-signed certificate with openssl in `dir`, by default for 127.0.0.1. The subject
 * alternative name carries the IP address, because TLS clients check it and not the common name.
 */
export async function makeSelfSignedCert(
  dir: string,
  options: CertOptions = {},
): Promise<SelfSignedCert> {
  const prefix = options.filePrefix ?? '';
  const certFile = join(dir, `${prefix}cert.pem`);
  const keyFile = join(dir, `${prefix}key.pem`);
  await run(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${options.commonName ?? '127.0.0.1'}`,
      '-addext',
      `subjectAltName=${options.altName ?? 'IP:127.0.0.1'}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { timeout: 30_000 },
  );
  return { certFile, keyFile };
}
