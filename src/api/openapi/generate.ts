// Build step (`node dist/src/api/openapi/generate.js`, after tsc): writes dist/src/api/openapi/
// definitions.json so the server loads the built-in schemas without reading @kubernetes/client-node
// at runtime.
import { writeFileSync } from 'node:fs';
import { compiledFile } from '../../machinery/install.js';
import { buildDefinitions } from './build-definitions.js';
import { DEFINITIONS_FILE } from './schemas.js';

const out = compiledFile(DEFINITIONS_FILE);
const defs = buildDefinitions();
writeFileSync(out, JSON.stringify(defs));
console.log(`openapi: wrote ${Object.keys(defs).length} definitions to ${out}`);
