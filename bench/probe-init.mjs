// Runs in a fresh Node process per sample: import one bundle (which builds its handler, as a Lambda
// cold start does) and report how long that took, in wall-clock and CPU time, and the memory it left.
// Plain JavaScript, so the production Node runs it without any loader.
import { pathToFileURL } from 'node:url';

const wall0 = performance.now();
const cpu0 = process.cpuUsage();
const mod = await import(pathToFileURL(process.argv[2]).href);
const wallMs = performance.now() - wall0;
const cpu = process.cpuUsage(cpu0);
if (typeof mod.handler !== 'function') {
  console.error(`no handler exported by ${process.argv[2]}`);
  process.exit(1);
}
const { rss, heapUsed } = process.memoryUsage();
process.stdout.write(JSON.stringify({ wallMs, cpuMs: (cpu.user + cpu.system) / 1000, bootMs: wall0, rss, heapUsed }));
