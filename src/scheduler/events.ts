// core/v1 Events about pods, written through the ApiClient (so the scheduler works in-process
// or over HTTPS alike). Repeats of the same event within ten minutes fold into one whose count
// grows, as client-go's recorder does. Best effort: an event never fails what it describes.
import type { ApiClient } from '../client/client.js';
import { R } from '../client/client.js';
import { eventAbout } from '../client/events.js';
import type { KObject } from '../machinery/object.js';
import { rfc3339 } from '../machinery/time.js';

const FOLD_WINDOW_MS = 10 * 60 * 1000;
const MAX_REMEMBERED = 4096;

export class PodEvents {
  private recent = new Map<string, { event: KObject; at: number }>();

  constructor(
    private client: ApiClient,
    private component: string,
  ) {}

  async record(obj: KObject, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = obj.metadata.namespace || 'default';
    const key = `${obj.metadata.uid}\u0000${namespace}\u0000${obj.metadata.name}\u0000${type}\u0000${reason}\u0000${message}`;
    const t = rfc3339();
    try {
      const seen = this.recent.get(key);
      if (seen && Date.now() - seen.at < FOLD_WINDOW_MS) {
        try {
          const next = { ...seen.event, count: ((seen.event.count as number) ?? 1) + 1, lastTimestamp: t };
          seen.event = await this.client.update(R.events, namespace, next);
          seen.at = Date.now();
          return;
        } catch {
          this.recent.delete(key); // gone or changed underneath: start a new one
        }
      }
      const name = `${obj.metadata.name}.${(Date.now() * 1000 + Math.floor(Math.random() * 1000)).toString(16)}`;
      const event = eventAbout(obj, type, reason, message, { component: this.component, name, time: t });
      const created = await this.client.create(R.events, namespace, event);
      if (this.recent.size >= MAX_REMEMBERED) this.recent.delete(this.recent.keys().next().value as string);
      this.recent.set(key, { event: created, at: Date.now() });
    } catch {
      // Best effort (namespace terminating, API unavailable…).
    }
  }
}
