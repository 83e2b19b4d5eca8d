// ONNX Runtime (onnxruntime-node, CPU execution provider) timing of one exported model, for
// benchmarks/compare.sh. Prints one JSON line like attnscope-cli bench.
//   node benchmarks/ort_bench.js MODEL.onnx [runs] [threads] [spin|nospin]   (NODE_PATH: onnxruntime-node)
// spin (default): ORT's own default, idle pool threads spin between operators; nospin: they wait
// (session.intra_op.allow_spinning=0), as PyTorch (OMP_WAIT_POLICY=PASSIVE) and AttnScope do.
const ort = require('onnxruntime-node');

async function main() {
  const [model, runsArg, threadsArg, spinArg] = process.argv.slice(2);
  const runs = Number(runsArg || 10), threads = Number(threadsArg || 2), spin = spinArg !== 'nospin';
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential',
    extra: { session: { intra_op: { allow_spinning: spin ? '1' : '0' } } },
  });
  const input = session.inputNames[0];
  const data = new Float32Array(3 * 224 * 224);
  for (let i = 0; i < data.length; ++i) data[i] = Math.sin(i * 0.37);
  const feeds = { [input]: new ort.Tensor('float32', data, [1, 3, 224, 224]) };
  const times = [], cpu = []; // wall-clock, and process CPU time (all threads) per run
  for (let i = 0; i < runs + 2; ++i) { // two warm-up runs
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const c = process.cpuUsage(c0);
    if (i >= 2) { times.push(ms); cpu.push((c.user + c.system) / 1e3); }
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  console.log(JSON.stringify({ model, runtime: 'onnxruntime-node ' + require('onnxruntime-node/package.json').version,
    threads, spin, runs, median_ms: times[Math.floor(times.length / 2)], min_ms: times[0],
    median_cpu_ms: cpu[Math.floor(cpu.length / 2)],
    peak_rss_mb: process.resourceUsage().maxRSS / 1024 }));
}
main().catch((e) => { console.error(e); process.exit(1); });
