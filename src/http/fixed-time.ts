import { setTimeout as delay } from 'node:timers/promises';

/**
 * Runs `work` and returns no sooner than `ms` after it began. For answers that are the same whoever
 * asks (is this address a member, a subscriber, a reader who already asked for help?) while the work
 * behind them is not: answering as soon as the work was done told one from the other by time alone.
 * It hides work that ends within `ms`; longer work (a loaded database) shows through. Each floor is
 * a setting (src/config/schema.ts, "Answers in fixed time") so tests can make it small.
 */
export async function inFixedTime<T>(ms: number, work: () => Promise<T>): Promise<T> {
  const answerAt = delay(ms);
  const result = await work();
  await answerAt;
  return result;
}
