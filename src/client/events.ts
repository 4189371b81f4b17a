// Events about what the control plane does (`kubectl describe` shows them): core/v1 Events
// in the object's namespace, with repeats of the same event folded into one whose count grows,
// as client-go's recorder does.
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import { systemContext } from '../apiserver/context.js';
import { now, type Resources } from '../apiserver/resources.js';

const FOLD_WINDOW_MS = 10 * 60 * 1000;
const MAX_REMEMBERED = 4096;

interface Remembered {
  name: string;
  namespace: string;
  count: number;
  at: number;
}

export class EventRecorder {
  private recent = new Map<string, Remembered>();
  private ctx;

  constructor(
    private resources: Resources,
    private component: string,
    private host?: string,
  ) {
    this.ctx = systemContext(component);
  }

  /** Best effort: an event that cannot be written must never fail the action it describes. */
  async record(obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    try {
      await this.write(obj, type, reason, message);
    } catch (e) {
      if (!(e instanceof StatusError)) throw e;
    }
  }

  private async write(obj: KObject, type: string, reason: string, message: string) {
    const spec = this.resources.spec('', 'v1', 'events');
    const namespace = obj.metadata.namespace || 'default';
    const key = [obj.metadata.uid, obj.kind, namespace, obj.metadata.name, type, reason, message].join('\u0000');
    const t = now();
    const seen = this.recent.get(key);
    if (seen && Date.now() - seen.at < FOLD_WINDOW_MS) {
      const live = await this.resources.tryGet(spec, seen.namespace, seen.name);
      if (live) {
        seen.count++;
        seen.at = Date.now();
        await this.resources.update(spec, seen.namespace, seen.name, { ...live, count: seen.count, lastTimestamp: t }, this.ctx);
        return;
      }
    }
    const name = `${obj.metadata.name}.${(Date.now() * 1000 + Math.floor(Math.random() * 1000)).toString(16)}`;
    const event: KObject = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace },
      involvedObject: {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        name: obj.metadata.name,
        namespace: obj.metadata.namespace,
        uid: obj.metadata.uid,
        resourceVersion: obj.metadata.resourceVersion,
      },
      reason,
      message,
      type,
      source: { component: this.component, ...(this.host ? { host: this.host } : {}) },
      firstTimestamp: t,
      lastTimestamp: t,
      count: 1,
      reportingComponent: this.component,
      reportingInstance: this.host ?? this.component,
    };
    await this.resources.create(spec, namespace, event, this.ctx);
    if (this.recent.size >= MAX_REMEMBERED) this.recent.delete(this.recent.keys().next().value as string);
    this.recent.set(key, { name, namespace, count: 1, at: Date.now() });
  }
}
