// Where Skiff's own files are on disk — the one place that knows the layout, whether this code runs
// as tsc output (dist/src/**, as the unit tests import it) or from an esbuild bundle
// (dist/bundle/*.cjs, what bin/skiff runs; scripts/bundle.mjs defines SKIFF_BUNDLE for it and puts
// each bundle directly in dist/bundle/):
//
//   <root>/package.json
//   <root>/src/**             the sources, and files shipped as they are (the .cjs preloads)
//   <root>/dist/src/**        tsc output: separately spawned scripts and data files live here
//   <root>/dist/bundle/       the CLI (cli.cjs) and the background server (server.cjs), each with
//                             its entry (cli.js, server.js) and code cache (see scripts/bundle.mjs)
//
// Code must not locate files relative to its own import.meta.url: in a bundle that is the bundle.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

declare const SKIFF_BUNDLE: boolean | undefined;

/** True inside an esbuild bundle. */
export const BUNDLED: boolean = typeof SKIFF_BUNDLE !== 'undefined' && SKIFF_BUNDLE === true;

// This file is dist/src/machinery/install.js, or it is part of dist/bundle/<name>.cjs.
const here = path.dirname(fileURLToPath(import.meta.url));

/** The package root: the directory of package.json. */
export const ROOT = BUNDLED ? path.resolve(here, '..', '..') : path.resolve(here, '..', '..', '..');

/** A compiled file (tsc output), by its path under src/: `compiledFile('a/b.js')` is dist/src/a/b.js. */
export function compiledFile(rel: string): string {
  return path.join(ROOT, 'dist', 'src', rel);
}

/** A file shipped as it is in the source tree (not compiled), by its path under src/. */
export function sourceFile(rel: string): string {
  return path.join(ROOT, 'src', rel);
}

/** The script `create`/`start cluster` run as the cluster's background server. */
export function serverEntry(): string {
  return BUNDLED ? path.join(ROOT, 'dist', 'bundle', 'server.js') : compiledFile('controlplane/main.js');
}
