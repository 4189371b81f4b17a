#!/usr/bin/env node
// Build step after tsc: bundles the compiled CLI and the background server into dist/bundle/
// (cli.js, server.js) with esbuild, so each process loads a few files instead of hundreds of ES
// modules. Code both share, and what they import only lazily (the X.509 library, `node join`'s
// kubelet), goes into chunk files and is loaded when first needed. better-sqlite3 (native) stays a
// package import. SKIFF_BUNDLE tells src/machinery/install.ts that it runs bundled (asset paths).
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outdir = path.join(root, 'dist', 'bundle');

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { cli: 'dist/src/cli/main.js', server: 'dist/src/controlplane/main.js' },
  outdir,
  bundle: true,
  splitting: true,
  // Flat: every file of the bundle sits directly in dist/bundle/ (src/machinery/install.ts relies on it).
  chunkNames: '[name]-[hash]',
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['better-sqlite3'],
  define: { SKIFF_BUNDLE: 'true' },
  // Bundled CommonJS packages call require() for Node's built-ins.
  banner: { js: "import { createRequire as __skiffRequire } from 'node:module'; const require = __skiffRequire(import.meta.url);" },
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
});
for (const [file, out] of Object.entries(result.metafile.outputs)) {
  if (file.endsWith('.js') && /(cli|server)\.js$/.test(file)) console.log(`bundle: ${path.relative(root, file)} ${(out.bytes / 1024).toFixed(0)} KiB`);
}
