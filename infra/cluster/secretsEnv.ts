import { realpathSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { credentialsEnv, loadOrCreateCredentials, type Credentials } from '../nats/credentials.ts';
import { clusterRoutesValue, generateRoutePassword } from './nodeEnv.ts';

/**
 * The environment every node of a cluster shares and that must stay secret: the users'
 * passwords (LIFELINE_PASS_*), the routes' password and the routes themselves (their URLs
 * carry that password: nats-server 2.9 does not use the cluster's own credentials for the
 * routes it solicits). Identical on every node; each node adds its own node-<n>.env.
 *
 *   node --import tsx infra/cluster/secretsEnv.ts --hosts 10.0.0.1,10.0.0.2,10.0.0.3 \
 *        [--cluster-port 6222] [--data-dir ./.lifeline] --out secrets.env
 *
 * The passwords come from <data-dir>/credentials.json (created if missing): copy that file
 * to every host that runs Lifeline services, and the env file to every NATS node.
 * LIFELINE_CLUSTER_PASS, when set, is reused instead of generating a new route password.
 */

const USAGE = 'usage: secretsEnv.ts --hosts HOST1,HOST2,HOST3 [--cluster-port 6222] [--data-dir ./.lifeline] --out FILE\n';

const host = z.string().regex(/^[A-Za-z0-9.:[\]-]+$/, 'a host name or IP address');
const argsSchema = z.object({
  hosts: z
    .string()
    .transform((s) => s.split(',').map((h) => h.trim()))
    .pipe(z.array(host).min(1)),
  clusterPort: z.coerce.number().int().min(1).max(65_535).default(6222),
  dataDir: z.string().min(1).default('./.lifeline'),
  /** A file (written mode 0600), not stdout: the log lines go to stdout. */
  out: z.string().min(1),
  routePassword: z.string().regex(/^[a-z][0-9a-f]{32,}$/, 'a letter followed by at least 32 hex digits').optional(),
});

export interface ClusterSecretsInput {
  hosts: string[];
  clusterPort: number;
  credentials: Credentials;
  routePassword: string;
}

export function clusterSecretsEnv(input: ClusterSecretsInput): Record<string, string> {
  const routes = input.hosts.map((h) => ({ host: h, port: input.clusterPort }));
  return {
    ...credentialsEnv(input.credentials),
    LIFELINE_CLUSTER_PASS: input.routePassword,
    LIFELINE_CLUSTER_ROUTES: clusterRoutesValue(routes, input.routePassword),
  };
}

/**
 * KEY='value' lines, read alike by systemd's EnvironmentFile= and by a shell (`set -a; .
 * FILE`): single quotes keep a value's double quotes and brackets for nats-server to parse.
 */
export function renderEnvFile(vars: Record<string, string>, comment: string[] = []): string {
  const lines = comment.map((c) => `# ${c}`);
  for (const [key, value] of Object.entries(vars)) {
    if (value.includes("'") || value.includes('\n')) throw new Error(`${key}: a value with a quote or a newline cannot be written`);
    lines.push(`${key}='${value}'`);
  }
  return `${lines.join('\n')}\n`;
}

export async function main(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    values = parseArgs({
      args: [...argv],
      options: {
        hosts: { type: 'string' },
        'cluster-port': { type: 'string' },
        'data-dir': { type: 'string' },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }).values as Record<string, string | undefined>;
  } catch (err) {
    process.stderr.write(`secretsEnv: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const parsed = argsSchema.safeParse({
    hosts: values.hosts,
    clusterPort: values['cluster-port'],
    dataDir: values['data-dir'],
    out: values.out,
    routePassword: env.LIFELINE_CLUSTER_PASS || undefined,
  });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || 'arguments'}: ${i.message}`).join('; ');
    process.stderr.write(`secretsEnv: ${problems}\n${USAGE}`);
    return 2;
  }
  const args = parsed.data;
  const credentials = await loadOrCreateCredentials(resolve(args.dataDir));
  const text = renderEnvFile(
    clusterSecretsEnv({ hosts: args.hosts, clusterPort: args.clusterPort, credentials, routePassword: args.routePassword ?? generateRoutePassword() }),
    [
      `Lifeline NATS cluster secrets for ${args.hosts.join(', ')} (generated ${new Date().toISOString()}).`,
      'The same file on every node, next to its node-<n>.env; keep it mode 0600. See docs/cluster.md.',
    ],
  );
  writeFileSync(args.out, text, { mode: 0o600 });
  process.stderr.write(`wrote ${args.out}\n`);
  return 0;
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(realpathSync(entry)).href) {
  process.exitCode = await main();
}
