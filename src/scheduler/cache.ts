// The scheduler's cache: every node with the pods bound to it, plus "assumed" pods — placed by
// this scheduler, binding in flight or not yet seen bound through the watch — so a burst of
// decisions never double-books the same capacity.
import type { KObject } from '../machinery/object.js';
import { NodeInfo, PodInfo } from './types.js';

export class SchedulerCache {
  private nodes = new Map<string, NodeInfo>();
  private podNode = new Map<string, { info: PodInfo; assumed: boolean }>();
  private list?: NodeInfo[];

  /** Nodes that exist (have a Node object), in a stable order. */
  nodeInfos(): NodeInfo[] {
    return (this.list ??= [...this.nodes.values()].filter((n) => n.node).sort((a, b) => (a.name < b.name ? -1 : 1)));
  }

  node(name: string): NodeInfo | undefined {
    return this.nodes.get(name);
  }

  private ensure(name: string): NodeInfo {
    let n = this.nodes.get(name);
    if (!n) {
      n = new NodeInfo(name);
      this.nodes.set(name, n);
    }
    return n;
  }

  setNode(node: KObject): NodeInfo {
    const n = this.ensure(node.metadata.name!);
    if (!n.node) this.list = undefined;
    n.setNode(node);
    return n;
  }

  removeNode(name: string): void {
    const n = this.nodes.get(name);
    if (!n) return;
    // Pods still bound to a deleted node keep their entry until they go (as upstream).
    n.node = undefined;
    if (!n.pods.size) this.nodes.delete(name);
    this.list = undefined;
  }

  /** A pod seen bound (through the watch); replaces an assumed copy of it. */
  addPod(info: PodInfo): void {
    this.removePod(info.key);
    this.ensure(info.nodeName).addPod(info);
    this.podNode.set(info.key, { info, assumed: false });
  }

  removePod(key: string, uid?: string): PodInfo | undefined {
    const at = this.podNode.get(key);
    if (!at || (uid && at.info.uid && at.info.uid !== uid)) return undefined;
    this.podNode.delete(key);
    const n = this.nodes.get(at.info.nodeName);
    n?.removePod(key);
    if (n && !n.node && !n.pods.size) this.nodes.delete(n.name);
    return at.info;
  }

  /** Record a placement before the API server has confirmed it. */
  assume(info: PodInfo): void {
    this.removePod(info.key);
    this.ensure(info.nodeName).addPod(info);
    this.podNode.set(info.key, { info, assumed: true });
  }

  /** Undo an assumption (binding failed); a pod already confirmed by the watch stays. */
  forget(key: string): void {
    if (this.podNode.get(key)?.assumed) this.removePod(key);
  }

  isAssumed(key: string): boolean {
    return this.podNode.get(key)?.assumed === true;
  }

  has(key: string): boolean {
    return this.podNode.has(key);
  }

  get podCount(): number {
    return this.podNode.size;
  }
}
