// Preload (`node --import <this file>`, also through NODE_OPTIONS into child processes) that
// records every file the ES module loader loads, one URL a line, in $RECORD_LOADS_DIR/<pid>.txt:
// which files a process really ran (the bundles or the tsc output).
import { register } from 'node:module';

const dir = process.env.RECORD_LOADS_DIR;
if (dir) register('./record-loads-hooks.js', import.meta.url, { data: { file: `${dir}/${process.pid}.txt` } });
