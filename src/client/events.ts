// Events about what the control plane does (`kubectl describe` shows them): core/v1 Events
// in the object's namespace, with repeats of the same event folded into one whose count grows,
// as client-go's recorder does.
import { StatusError } from '../machinery/errors.js';
import type { KObject } from '../machinery/object.js';
import { systemContext } from '../apiserver/context.js';
import { now, type Resources } from '../apiserver/resources.js';
import { rfc3339 } from '../machinery/time.js';
import { R, type ApiClient } from './client.js';

const FOLD_WINDOW_MS = 10 * 60 * 1000;
const MAX_REMEMBERED = 4096;

interface Remembered {
  name: string;
  namespace: string;
  count: number;
  at: number;
}

export interface EventSource {
  component: string;
  /** The node a kubelet reports from. */
  host?: string;
  /** The Event's name; without one the API generates it from the object's name. */
  name?: string;
  time?: string;
}

/** A new core/v1 Event (count 1) about `obj`, in its namespace (`default` for cluster-scoped objects). */
export function eventAbout(obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string, src: EventSource): KObject {
  const namespace = obj.metadata.namespace || 'default';
  const t = src.time ?? rfc3339();
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: src.name ? { name: src.name, namespace } : { generateName: `${obj.metadata.name}.`, namespace },
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
    source: { component: src.component, ...(src.host ? { host: src.host } : {}) },
    firstTimestamp: t,
    lastTimestamp: t,
    count: 1,
    reportingComponent: src.component,
    reportingInstance: src.host ?? src.component,
  };
}

/** Best effort through a client: an event that cannot be written must never fail the action it describes. */
export async function emitEvent(client: ApiClient, component: string, obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
  try {
    await client.create(R.events, obj.metadata.namespace || 'default', eventAbout(obj, type, reason, message, { component }));
  } catch {
    // nothing to do: the action goes on without its event
  }
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

  private async write(obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string) {
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
    const event = eventAbout(obj, type, reason, message, { component: this.component, host: this.host, name, time: t });
    await this.resources.create(spec, namespace, event, this.ctx);
    if (this.recent.size >= MAX_REMEMBERED) this.recent.delete(this.recent.keys().next().value as string);
    this.recent.set(key, { name, namespace, count: 1, at: Date.now() });
  }
}
