// The `yaml` library, loaded on first use: most requests and the control plane's start-up never
// touch YAML, and loading the library costs more than a hundred milliseconds.
import { createRequire } from 'node:module';
import { BUNDLED } from './install.js';

type YamlModule = typeof import('yaml');
let loaded: YamlModule | undefined;

export function yaml(): YamlModule {
  // In a bundle, esbuild turns the plain require() into its bundled copy (still evaluated only on
  // this first call), the one the bundle's static imports of 'yaml' use too.
  return (loaded ??= (BUNDLED ? require('yaml') : createRequire(import.meta.url)('yaml')) as YamlModule);
}
