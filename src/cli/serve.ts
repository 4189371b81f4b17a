// The one place that binds the CLI to the real control plane. main.ts imports this lazily, so the
// rest of the CLI (create, delete, get, …) works even where the control plane cannot be loaded.
import { runControlPlane } from '../controlplane/run.js';
import { runServer, type ControlPlaneRunner } from '../cluster/server.js';

export function serve(opts: { name: string; home: string }, run: ControlPlaneRunner = runControlPlane): Promise<void> {
  return runServer(opts, run);
}
