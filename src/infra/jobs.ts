// The job runner's entry point for the process's background wiring; the parts live in ./jobs/
// (queue.ts, runner.ts, metrics.ts; README.md tells the lease and fence protocol).
export { registerJobMetrics } from './jobs/metrics.js';
export { createJobRunner, type JobRunner, type PeriodicTask } from './jobs/runner.js';
