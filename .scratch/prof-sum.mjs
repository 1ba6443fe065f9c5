import fs from 'node:fs';
const file = process.argv[2];
const prof = JSON.parse(fs.readFileSync(file, 'utf8'));
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map();
const dt = prof.timeDeltas; let total = 0;
const counts = new Map();
prof.samples.forEach((id, i) => { counts.set(id, (counts.get(id) ?? 0) + (dt[i] ?? 0)); total += dt[i] ?? 0; });
// inclusive time per "package" bucket: attribute each sample to the first frame (from leaf upward) matching a bucket
const parent = new Map(); for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const bucketOf = (url, fn) => {
  if (!url) return fn || '(native)';
  const m = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/); if (m) return m[1];
  const s = url.match(/\/work\/main\/(.*)/); if (s) return s[1];
  return url.replace(/^node:/, 'node:');
};
const buckets = new Map();
const incl = new Map();
for (const [id, t] of counts) {
  let n = byId.get(id);
  const b = bucketOf(n.callFrame.url, n.callFrame.functionName);
  buckets.set(b, (buckets.get(b) ?? 0) + t);
  const seen = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const node = byId.get(cur); const bb = bucketOf(node.callFrame.url, node.callFrame.functionName);
    if (seen.has(bb)) continue; seen.add(bb); incl.set(bb, (incl.get(bb) ?? 0) + t);
  }
}
console.log('total ms', Math.round(total / 1000));
console.log('SELF'); [...buckets].sort((a, b) => b[1] - a[1]).slice(0, 25).forEach(([k, v]) => console.log((v / total * 100).toFixed(1).padStart(5), k));
console.log('INCLUSIVE'); [...incl].sort((a, b) => b[1] - a[1]).slice(0, 40).forEach(([k, v]) => console.log((v / total * 100).toFixed(1).padStart(5), k));
