// Entry of a cluster's background server, the process `create`/`start cluster` spawn:
//   node <dist/bundle/server.js | dist/src/controlplane/main.js> serve --name N --home H
// It loads only the server lifecycle and the control plane, never the CLI. stdout and stderr are
// the cluster's log file.
import { runServer } from '../cluster/server.js';
import { parseServeArgs } from '../cluster/state.js';
import { runControlPlane } from './run.js';

try {
  await runServer(parseServeArgs(process.argv.slice(2)), runControlPlane);
} catch (e) {
  // stderr is the cluster log: keep the whole stack for whoever reads it.
  process.stderr.write(`${(e as Error)?.stack ?? e}\n`);
  process.exit(1);
}
