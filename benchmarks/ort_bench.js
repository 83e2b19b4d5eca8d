// ONNX Runtime (onnxruntime-node, CPU execution provider) timing of one exported model, for
// benchmarks/compare.sh. Prints one JSON line like attnscope-cli bench.
//   node benchmarks/ort_bench.js MODEL.onnx [runs] [threads]      (NODE_PATH: where onnxruntime-node is)
const ort = require('onnxruntime-node');

async function main() {
  const [model, runsArg, threadsArg] = process.argv.slice(2);
  const runs = Number(runsArg || 10), threads = Number(threadsArg || 2);
  const session = await ort.InferenceSession.create(model, {
    executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1,
    graphOptimizationLevel: 'all', executionMode: 'sequential',
  });
  const input = session.inputNames[0];
  const data = new Float32Array(3 * 224 * 224);
  for (let i = 0; i < data.length; ++i) data[i] = Math.sin(i * 0.37);
  const feeds = { [input]: new ort.Tensor('float32', data, [1, 3, 224, 224]) };
  const times = [];
  for (let i = 0; i < runs + 2; ++i) { // two warm-up runs
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= 2) times.push(ms);
  }
  times.sort((a, b) => a - b);
  console.log(JSON.stringify({ model, runtime: 'onnxruntime-node ' + require('onnxruntime-node/package.json').version,
    threads, runs, median_ms: times[Math.floor(times.length / 2)], min_ms: times[0],
    peak_rss_mb: process.resourceUsage().maxRSS / 1024 }));
}
main().catch((e) => { console.error(e); process.exit(1); });
