// What every namespace holds in a real cluster, kept there by two upstream controllers: the
// `default` ServiceAccount (serviceaccount controller) and the `kube-root-ca.crt` ConfigMap with
// the cluster CA (root-ca-cert-publisher). Both are recreated if deleted.
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import { systemContext } from '../apiserver/context.js';
import type { Resources } from '../apiserver/resources.js';
import { Informer } from '../client/informer.js';
import { R, type ApiClient } from '../client/client.js';
import { WorkQueue } from '../client/workqueue.js';

export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';

export class NamespaceDefaultsController {
  private namespaces: Informer;
  private accounts: Informer;
  private configMaps: Informer;
  private queue: WorkQueue;
  private ctx = systemContext('namespace-defaults-controller');

  constructor(
    private resources: Resources,
    client: ApiClient,
    private caCert: string,
    private log: (s: string) => void = () => {},
  ) {
    this.namespaces = new Informer(client, R.namespaces);
    this.accounts = new Informer(client, R.serviceaccounts, { fieldSelector: 'metadata.name=default' });
    // Only the root CA ConfigMaps matter here: do not cache every ConfigMap in the cluster.
    this.configMaps = new Informer(client, R.configmaps, { fieldSelector: `metadata.name=${ROOT_CA_CONFIGMAP}` });
    this.queue = new WorkQueue((ns) => this.sync(ns), 2, 100, 10_000, (k, e) => this.log(`namespace defaults ${k}: ${(e as Error).message}`));
    this.namespaces.on({ onAdd: (o) => this.queue.add(o.metadata.name!), onUpdate: (o) => this.queue.add(o.metadata.name!) });
    const byNamespace = (o: KObject) => this.queue.add(o.metadata.namespace!);
    this.accounts.on({ onDelete: byNamespace });
    this.configMaps.on({ onDelete: byNamespace, onUpdate: byNamespace });
  }

  async start(): Promise<void> {
    await this.accounts.start();
    await this.configMaps.start();
    await this.namespaces.start();
  }

  stop(): void {
    this.namespaces.stop();
    this.accounts.stop();
    this.configMaps.stop();
    this.queue.stop();
  }

  private async sync(ns: string): Promise<void> {
    const namespace = this.namespaces.get(undefined, ns);
    if (!namespace || namespace.metadata.deletionTimestamp) return;
    if (!this.accounts.get(ns, 'default'))
      await this.ensure('serviceaccounts', { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: ns } });
    const cm = this.configMaps.get(ns, ROOT_CA_CONFIGMAP);
    const data = { 'ca.crt': this.caCert };
    if (!cm) {
      await this.ensure('configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: ROOT_CA_CONFIGMAP, namespace: ns }, data });
    } else if ((cm.data as Record<string, string> | undefined)?.['ca.crt'] !== this.caCert) {
      await this.tolerate(() => this.resources.update(this.resources.spec('', 'v1', 'configmaps'), ns, ROOT_CA_CONFIGMAP, { ...cm, data }, this.ctx));
    }
  }

  private ensure(plural: string, obj: KObject) {
    return this.tolerate(() => this.resources.create(this.resources.spec('', 'v1', plural), obj.metadata.namespace, obj, this.ctx));
  }

  /** Races with users and the namespace teardown are normal: the next event re-syncs. */
  private async tolerate(fn: () => Promise<unknown>) {
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof StatusError && [403, 404, 409].includes(e.code))) throw e;
    }
  }
}
