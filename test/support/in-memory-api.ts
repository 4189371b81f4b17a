// An API with in-memory storage and the system namespaces, for testing components (controllers,
// scheduler, kubelet) through the in-process client without sockets or files.
import { MemoryStore } from '../../src/storage/memory.js';
import { createApi, type Api } from '../../src/controlplane/api.js';
import { bootstrap } from '../../src/controlplane/bootstrap.js';
import type { InProcessClient } from '../../src/client/in-process.js';

export interface TestApi {
  api: Api;
  /** An in-process client acting as `identity`. */
  client(identity?: string): InProcessClient;
  close(): Promise<void>;
}

export async function startTestApi(opts: { admission?: 'default' | 'minimal' } = {}): Promise<TestApi> {
  const store = new MemoryStore();
  const api = createApi(store, { serviceSubnet: '127.96.0.0/12', admission: opts.admission });
  await bootstrap(api.resources, { apiServerHost: '127.0.0.1', apiServerPort: 6443, kubernetesServiceIP: '127.96.0.1' });
  api.setReady(true);
  return {
    api,
    client: (identity = 'test') => api.client(identity),
    close: () => store.close(),
  };
}
