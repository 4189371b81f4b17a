// What every write carries besides the object: who asks, and how the request wants it handled.
export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore';

export interface RequestContext {
  user: UserInfo;
  dryRun?: boolean;
  fieldManager?: string;
  fieldValidation?: FieldValidation;
  /** Filled by the handlers; sent back as `Warning: 299 - "..."` headers. */
  warnings: string[];
}

export const SYSTEM_USER: UserInfo = { name: 'system:apiserver', groups: ['system:masters', 'system:authenticated'] };

export function systemContext(manager = 'skiff-controlplane'): RequestContext {
  return { user: SYSTEM_USER, fieldManager: manager, warnings: [] };
}
