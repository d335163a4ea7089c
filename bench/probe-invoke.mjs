// Runs one function in a fresh Node process, in-process (no HTTP server in between): import its
// module (a bundle, or its source under tsx), invoke the handler with the events the bench prepared
// (the first invocation after init, then the warm ones), and after each warm invocation replay the
// raw calls that request needed (raw-calls bundle), so both run under the same conditions.
// Plain JavaScript, so the production Node runs it without a loader.
//   node probe-invoke.mjs <job.json> <result.json>
import { readFileSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { pathToFileURL } from 'node:url';

const job = JSON.parse(readFileSync(process.argv[2], 'utf8'));

const secretsManagerCalls = () =>
  new Promise((resolve, reject) => {
    get(`${job.secretsManagerUrl}/_count`, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve(JSON.parse(text)));
    }).on('error', reject);
  });

const context = (i) => ({
  functionName: job.name,
  awsRequestId: `bench-${i}`,
  getRemainingTimeInMillis: () => 10_000,
  callbackWaitsForEmptyEventLoop: true,
});

const recorder = globalThis.benchRecorder;
const smStart = await secretsManagerCalls();
const init0 = performance.now();
const mod = await import(pathToFileURL(job.module).href);
const initMs = performance.now() - init0;
const rawCalls = job.rawModule ? await import(pathToFileURL(job.rawModule).href) : undefined;
recorder?.take();

const samples = [];
const raw = [];
let smAfterFirst = smStart;
for (let i = 0; i < job.events.length; i += 1) {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await mod.handler(job.events[i], context(i));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const sample = { ms, cpuMs: (cpu.user + cpu.system) / 1000, status: result?.statusCode ?? 200 };
  if (job.keepBodies) sample.body = result?.body;
  if (recorder) sample.calls = recorder.take();
  samples.push(sample);
  if (i === 0) smAfterFirst = await secretsManagerCalls();
  // A bundle replays the plan its source run recorded for the same sample; a source run replays its own calls.
  const plan = job.rawPlans?.[i] ?? (sample.calls && rawCalls ? rawCalls.planFrom(sample.calls, job.delivery) : undefined);
  if (job.keepPlans) sample.plan = plan;
  if (rawCalls && plan && i === 0) await rawCalls.replay(plan); // warms the raw clients up, untimed
  else if (rawCalls && plan) {
    const r0 = performance.now();
    await rawCalls.replay(plan);
    raw.push(performance.now() - r0);
  }
}
const smEnd = await secretsManagerCalls();

writeFileSync(
  process.argv[3],
  JSON.stringify({
    initMs,
    samples,
    raw,
    secretsManager: {
      coldStart: smAfterFirst.calls - smStart.calls,
      warm: smEnd.calls - smAfterFirst.calls,
      warmRequests: Math.max(job.events.length - 1, 0),
      // Which secrets the cold start read: the ones a warm container re-reads on a timer are priced from these.
      coldStartIds: Object.keys(smAfterFirst.byId).filter((id) => (smAfterFirst.byId[id] ?? 0) > (smStart.byId[id] ?? 0)),
    },
    rss: process.memoryUsage().rss,
  }),
);
