// ApiClient over the Resources class directly: the same semantics as HTTPS, without a socket.
import { systemContext, type RequestContext } from '../apiserver/context.js';
import type { Resources } from '../apiserver/resources.js';
import type { SubresourceHandlers } from '../apiserver/subresources.js';
import { errors } from '../machinery/errors.js';
import { deepCopy, type KObject } from '../machinery/object.js';
import type { ApiClient, ClientDeleteOptions, ClientWatch, ClientWatchEvent, ResourceRef, Selectors } from './client.js';

export class InProcessClient implements ApiClient {
  private ctx: () => RequestContext;

  constructor(
    private resources: Resources,
    readonly identity: string,
    private subresources?: SubresourceHandlers,
  ) {
    this.ctx = () => systemContext(identity);
  }

  private spec(r: ResourceRef) {
    return this.resources.spec(r.group, r.version, r.resource);
  }

  async get(r: ResourceRef, namespace: string | undefined, name: string): Promise<KObject> {
    return deepCopy(await this.resources.get(this.spec(r), namespace, name));
  }

  async list(r: ResourceRef, namespace?: string, opts: Selectors & { limit?: number } = {}) {
    const res = await this.resources.list(this.spec(r), namespace, opts);
    return { items: res.items, resourceVersion: res.resourceVersion };
  }

  async watch(
    r: ResourceRef,
    namespace: string | undefined,
    opts: Selectors & { resourceVersion?: string },
    onEvent: (ev: ClientWatchEvent) => void,
    onClose: (err?: Error) => void,
  ): Promise<ClientWatch> {
    const spec = this.spec(r);
    let stopped = false;
    const handle = await this.resources.watch(spec, namespace, opts, (ev) => {
      if (!stopped) onEvent(ev);
    });
    // A kind that disappears (its CRD deleted) ends the watch, as the server closing it would.
    const onChange = () => {
      if (!this.resources.registry.lookup(r.group, r.version, r.resource)) {
        stop();
        onClose(new Error(`${r.resource} is no longer served`));
      }
    };
    this.resources.registry.on('changed', onChange);
    const stop = () => {
      stopped = true;
      handle.stop();
      this.resources.registry.off('changed', onChange);
    };
    return { stop };
  }

  create(r: ResourceRef, namespace: string | undefined, obj: KObject): Promise<KObject> {
    return this.resources.create(this.spec(r), namespace, obj, this.ctx());
  }

  update(r: ResourceRef, namespace: string | undefined, obj: KObject, subresource?: 'status'): Promise<KObject> {
    return this.resources.update(this.spec(r), namespace, obj.metadata.name!, obj, this.ctx(), subresource);
  }

  async patch(r: ResourceRef, namespace: string | undefined, name: string, contentType: string, body: unknown, subresource?: 'status') {
    return (await this.resources.patch(this.spec(r), namespace, name, contentType, body, this.ctx(), subresource)).object;
  }

  async delete(r: ResourceRef, namespace: string | undefined, name: string, opts: ClientDeleteOptions = {}): Promise<void> {
    await this.resources.delete(this.spec(r), namespace, name, opts, this.ctx());
  }

  async createSubresource(r: ResourceRef, namespace: string | undefined, name: string, subresource: string, body: KObject): Promise<KObject> {
    if (!this.subresources) throw errors.methodNotAllowed();
    return this.subresources.createInProcess(this.spec(r), namespace, name, subresource, body, this.ctx());
  }
}
