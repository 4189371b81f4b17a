// `skiff`: kind's verbs for Skiff clusters. Exit code 0 on success, 1 with `ERROR: <message>` on
// stderr on failure (set SKIFF_DEBUG=1 to also get the stack of an unexpected error).
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { ROOT, serverEntry } from '../machinery/install.js';
import { skiffHome } from '../cluster/state.js';
import {
  createCluster, deleteAllClusters, deleteCluster, getClusters, getJoinCommand, getKubeconfig, startCluster, stopCluster, type CliContext,
} from './commands.js';
import type { Output } from './progress.js';

export interface CliDeps {
  env: NodeJS.ProcessEnv;
  stdout: Output;
  stderr: Output;
  /** Entry script of the background server (run as `node <entry> serve --name N --home H`). */
  serverEntry: string;
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'skiff' && pkg.version) return pkg.version;
  } catch {
    // not installed the usual way
  }
  return 'unknown';
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: string[], deps: Partial<CliDeps> = {}): Promise<number> {
  const env = deps.env ?? process.env;
  const ctx: CliContext = {
    env,
    stdout: deps.stdout ?? process.stdout,
    stderr: deps.stderr ?? process.stderr,
    serverEntry: deps.serverEntry ?? serverEntry(),
    home: skiffHome(env),
  };
  const program = new Command('skiff')
    .description('Create and manage local Kubernetes clusters (kind-compatible configs, no Docker)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.stdout.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      outputError: (s, write) => write(`ERROR: ${s.replace(/^error: /, '')}`),
    })
    .showHelpAfterError('(run with --help for usage)');

  const create = program.command('create').description('Create a cluster');
  create.command('cluster').description('Create a local cluster')
    .option('--name <name>', 'cluster name (overrides the config file; default "skiff")')
    .option('--config <file>', 'kind.x-k8s.io/v1alpha4 Cluster config file')
    .option('--kubeconfig <file>', 'kubeconfig to update (default: $KUBECONFIG or ~/.kube/config)')
    .option('--wait <duration>', 'how long to wait for the control plane to be Ready', '60s')
    .option('--retain', 'keep the cluster state for inspection if creation fails')
    .action((o) => createCluster(ctx, o));

  const start = program.command('start').description('Start a stopped cluster');
  start.command('cluster').description('Start a stopped cluster from its saved state (same port and certificates)')
    .option('--name <name>', 'cluster name', 'skiff')
    .option('--wait <duration>', 'how long to wait for the control plane to be Ready', '60s')
    .action((o) => startCluster(ctx, o));

  const stop = program.command('stop').description('Stop a running cluster');
  stop.command('cluster').description('Stop a running cluster, keeping its state')
    .option('--name <name>', 'cluster name', 'skiff')
    .action((o) => stopCluster(ctx, o));

  const del = program.command('delete').description('Delete clusters');
  del.command('cluster').description('Stop a cluster and remove its state and kubeconfig entries')
    .option('--name <name>', 'cluster name', 'skiff')
    .option('--kubeconfig <file>', 'kubeconfig to clean (default: $KUBECONFIG or ~/.kube/config)')
    .action((o) => deleteCluster(ctx, o));
  del.command('clusters').description('Delete clusters')
    .option('-A, --all', 'delete all clusters')
    .option('--kubeconfig <file>', 'kubeconfig to clean (default: $KUBECONFIG or ~/.kube/config)')
    .action((o: { all?: boolean; kubeconfig?: string }) => {
      if (!o.all) throw new CommanderError(1, 'skiff.usage', 'ERROR: delete clusters requires --all\n');
      return deleteAllClusters(ctx, o);
    });

  const get = program.command('get').description('Get clusters or a kubeconfig');
  get.command('clusters').description('List clusters').action(() => getClusters(ctx));
  get.command('kubeconfig').description("Print a cluster's kubeconfig")
    .option('--name <name>', 'cluster name', 'skiff')
    .action((o) => getKubeconfig(ctx, o));
  get.command('join-command').description('Print the command that joins a node to a cluster')
    .option('--name <name>', 'cluster name', 'skiff')
    .action((o) => getJoinCommand(ctx, o));

  const node = program.command('node').description('Run a node agent');
  node.command('join').description('Run a node (kubelet) in this process and join a running cluster, as kubeadm join does')
    .requiredOption('--server <url>', 'the API server, https://host:port')
    .requiredOption('--token <token>', 'join token (skiff get join-command prints one)')
    .requiredOption('--ca-cert-hash <sha256:hex>', "hash of the cluster CA's public key")
    .requiredOption('--node-name <name>', 'name of the Node to register')
    .option('--node-ip <ip>', "the node's address (default: the first address of its pod CIDR)")
    .option('--labels <k=v,...>', 'labels for the Node')
    .option('--kubelet-port <port>', 'kubelet port (default: any free port)')
    .action(async (o) => {
      const { nodeJoin } = await import('./node-join.js');
      await nodeJoin(ctx, o);
    });

  program.command('version').description('Print the skiff version').action(() => {
    ctx.stdout.write(`skiff v${version()} node ${process.version} ${os.platform()}/${os.arch()}\n`);
  });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Commander has already printed its message (help, version, usage error) unless it is ours.
      if (e.code === 'skiff.usage') ctx.stderr.write(e.message);
      return e.exitCode === 0 ? 0 : 1;
    }
    const err = e as Error;
    ctx.stderr.write(`ERROR: ${(err?.message ?? String(e)).split('\n')[0]}\n`);
    if (env.SKIFF_DEBUG && err?.stack) ctx.stderr.write(err.stack + '\n');
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void runCli(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
