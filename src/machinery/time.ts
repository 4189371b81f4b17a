// Timestamps as the API writes them (metav1.Time): RFC 3339 in whole seconds, UTC.

/** `ms` (default now) as `2026-11-26T03:04:05Z`. */
export function rfc3339(ms: number = Date.now()): string {
  return new Date(ms).toISOString().slice(0, 19) + 'Z';
}
