// Containers outlive their kubelet on purpose (a restarted kubelet adopts them). When a cluster
// is stopped or deleted and its control plane had to be killed before it stopped them all, the
// CLI finishes the job from the runtime records on disk.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { ProcessRuntime } from './runtime.js';

/** Stops every container recorded under `<clusterDir>/nodes/<node>/runtime`; returns how many sandboxes it stopped. */
export async function stopLeftoverContainers(clusterDir: string): Promise<number> {
  const nodes = path.join(clusterDir, 'nodes');
  if (!existsSync(nodes)) return 0;
  let stopped = 0;
  for (const node of readdirSync(nodes)) {
    const stateDir = path.join(nodes, node, 'runtime');
    if (!existsSync(stateDir)) continue;
    const rt = new ProcessRuntime({ stateDir, preloadPath: false });
    try {
      for (const sb of await rt.listSandboxes()) {
        const running = (await rt.listContainers(sb.id)).some((c) => c.state === 'running');
        if (!running) continue;
        await rt.stopSandbox(sb.id);
        stopped++;
      }
    } finally {
      await rt.close();
    }
  }
  return stopped;
}
