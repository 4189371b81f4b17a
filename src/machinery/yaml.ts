// The `yaml` library, loaded on first use: most requests and the control plane's start-up never
// touch YAML, and loading the library costs more than a hundred milliseconds.
import { createRequire } from 'node:module';

type YamlModule = typeof import('yaml');
let loaded: YamlModule | undefined;

export function yaml(): YamlModule {
  return (loaded ??= createRequire(import.meta.url)('yaml') as YamlModule);
}
