// Preloaded with NODE_OPTIONS="--import <this file>" into the skiff CLI and server (Node 20 does
// not accept --cpu-prof in NODE_OPTIONS): profiles the whole process and writes a .cpuprofile
// into $SKIFF_BENCH_PROF_DIR at exit. An in-thread inspector session answers synchronously, so
// the profile is written even from the 'exit' handler.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.SKIFF_BENCH_PROF_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(join(dir, `${process.argv.slice(2, 4).join('-') || 'node'}-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
