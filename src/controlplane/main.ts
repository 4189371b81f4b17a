// Entry of a cluster's background server, the process `create`/`start cluster` spawn:
//   node <dist/bundle/server.js | dist/src/controlplane/main.js> serve --name N --home H
// It loads only the server lifecycle and the control plane, never the CLI. stdout and stderr are
// the cluster's log file. (dist/bundle/server.js runs the bundled copy of this module and calls
// main() itself; see scripts/bundle.mjs.)
import { pathToFileURL } from 'node:url';
import { runServer } from '../cluster/server.js';
import { parseServeArgs } from '../cluster/state.js';
import { runControlPlane } from './run.js';

/** Run the server for process.argv; resolves once it serves. On failure it logs and exits 1. */
export async function main(): Promise<void> {
  try {
    await runServer(parseServeArgs(process.argv.slice(2)), runControlPlane);
  } catch (e) {
    // stderr is the cluster log: keep the whole stack for whoever reads it.
    process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
