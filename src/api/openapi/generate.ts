// Build step (`node dist/api/openapi/generate.js`, after tsc): writes definitions.json next to this
// file so the server loads the built-in schemas without reading @kubernetes/client-node at runtime.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildDefinitions } from './build-definitions.js';

const out = fileURLToPath(new URL('./definitions.json', import.meta.url));
const defs = buildDefinitions();
writeFileSync(out, JSON.stringify(defs));
console.log(`openapi: wrote ${Object.keys(defs).length} definitions to ${out}`);
