#!/usr/bin/env node
// Build step after tsc: bundles the compiled CLI and the background server into dist/bundle/
// (cli.js, server.js) with esbuild, so each process loads a few files instead of hundreds of ES
// modules. Two separate builds: what each imports only lazily (`node join`'s kubelet in the CLI,
// the WebSocket library in the server) goes into chunk files of its own, loaded when first
// needed. Packages left out of a bundle load from node_modules when first required:
// better-sqlite3 (native), and in the server YAML (only for YAML requests; the CLI needs it for
// every kubeconfig). SKIFF_BUNDLE tells src/machinery/install.ts that it runs bundled.
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bundle');

const bundles = [
  { name: 'cli', entry: 'dist/src/cli/main.js', external: ['better-sqlite3'] },
  { name: 'server', entry: 'dist/src/controlplane/main.js', external: ['better-sqlite3', 'yaml'] },
];

rmSync(outdir, { recursive: true, force: true });
for (const b of bundles) {
  const result = await build({
    absWorkingDir: root,
    entryPoints: { [b.name]: b.entry },
    outdir,
    bundle: true,
    splitting: true,
    // Flat: every file of the bundle sits directly in dist/bundle/ (src/machinery/install.ts relies on it).
    chunkNames: `${b.name}-[name]-[hash]`,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: b.external,
    define: { SKIFF_BUNDLE: 'true' },
    // require() of Node's built-ins (from bundled CommonJS packages) and of the external packages.
    banner: { js: "import { createRequire as __skiffRequire } from 'node:module'; const require = __skiffRequire(import.meta.url);" },
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  const files = Object.entries(result.metafile.outputs).filter(([f]) => f.endsWith('.js'));
  const kib = (n) => `${(n / 1024).toFixed(0)} KiB`;
  const [, main] = files.find(([f]) => path.basename(f) === `${b.name}.js`);
  console.log(`bundle: dist/bundle/${b.name}.js ${kib(main.bytes)}, ${files.length - 1} lazy or shared chunks ${kib(files.reduce((a, [, o]) => a + o.bytes, 0) - main.bytes)}`);
}
