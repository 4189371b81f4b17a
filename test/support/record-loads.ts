// Preload (`node --import <this file>`, also through NODE_OPTIONS into child processes) that
// records every file a process loads as a module, one file URL a line, in
// $RECORD_LOADS_DIR/<pid>.txt: ES modules through a loader hook, CommonJS files as they compile,
// and scripts compiled through node:vm (the bundles, see src/machinery/code-cache.ts). Shows which
// files a process really ran (the bundles or the tsc output) and when.
import { appendFileSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';

const dir = process.env.RECORD_LOADS_DIR;
if (dir) {
  const file = `${dir}/${process.pid}.txt`;
  register('./record-loads-hooks.js', import.meta.url, { data: { file } });
  const Module = createRequire(import.meta.url)('node:module') as { prototype: { _compile(content: string, filename: string): unknown } };
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content: string, filename: string) {
    appendFileSync(file, `${pathToFileURL(filename).href}\n`);
    return compile.call(this, content, filename);
  };
  const Script = vm.Script;
  vm.Script = class extends Script {
    constructor(code: string, options?: vm.ScriptOptions | string) {
      super(code, options);
      const filename = typeof options === 'string' ? options : options?.filename;
      if (filename?.startsWith('/')) appendFileSync(file, `${pathToFileURL(filename).href}\n`);
    }
  };
}
