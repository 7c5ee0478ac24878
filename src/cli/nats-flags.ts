import type { NatsBusOptions } from '../bus/nats.ts';
import { UsageError } from './overrides.ts';

/** Flags that every command reaching NATS takes, in node:util parseArgs form. */
export const NATS_OPTIONS = {
  nats: { type: 'string' },
  'nats-user': { type: 'string' },
  'nats-pass': { type: 'string' },
  'nats-token': { type: 'string' },
  'nats-nkey': { type: 'string' },
  'nats-creds': { type: 'string' },
  'nats-ca': { type: 'string' },
  'nats-cert': { type: 'string' },
  'nats-key': { type: 'string' },
  prefix: { type: 'string' },
} as const;

export const NATS_HELP = `NATS:
  --nats URLS            NATS servers, comma-separated, e.g. nats://10.0.0.5:4222
  --nats-user USER, --nats-pass PASS, --nats-token TOKEN
  --nats-nkey FILE       nkey seed file
  --nats-creds FILE      .creds file (user JWT and seed)
  --nats-ca FILE, --nats-cert FILE, --nats-key FILE   TLS
  --prefix P             subject prefix (default lm)`;

type NatsValues = { [K in keyof typeof NATS_OPTIONS]?: string };

/** Schemes that NATS clients accept in a server URL; a server without one is nats://. */
const NATS_SCHEMES = ['nats', 'tls'];

/** Rejects a server of --nats whose scheme NATS clients do not use. */
function checkServers(servers: string): void {
  for (const server of servers.split(',').map((s) => s.trim())) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(server)?.[1]?.toLowerCase();
    if (scheme !== undefined && !NATS_SCHEMES.includes(scheme))
      throw new UsageError(
        `--nats ${server} has scheme ${scheme}://, which NATS does not use. Fix: give nats://HOST:4222`,
      );
  }
}

/** Builds the NATS connection options from the flags; the password and token come from env too. */
export function natsOptions(
  values: NatsValues,
  name: string,
  env: NodeJS.ProcessEnv,
): NatsBusOptions {
  const tls =
    values['nats-ca'] || values['nats-cert'] || values['nats-key']
      ? { caFile: values['nats-ca'], certFile: values['nats-cert'], keyFile: values['nats-key'] }
      : undefined;
  checkServers(values.nats!);
  return {
    servers: values.nats!,
    name,
    user: values['nats-user'] ?? env.NATS_USER,
    pass: values['nats-pass'] ?? env.NATS_PASSWORD,
    token: values['nats-token'] ?? env.NATS_TOKEN,
    nkeyFile: values['nats-nkey'],
    credsFile: values['nats-creds'] ?? env.NATS_CREDS,
    tls,
  };
}
