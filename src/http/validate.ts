import { z } from 'zod';
import { validationError } from './errors.js';

/** Parses untrusted input at the edge; a failure becomes a 422 listing each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw validationError(result.error);
  return result.data;
}

/** An email address as readers type it: surrounding spaces and capitals do not make it invalid. */
export const emailField = z
  .string()
  .trim()
  .toLowerCase()
  .pipe(z.email('Please enter a correct email address').max(254));

/** A client's Idempotency-Key header, passed on to Stripe inside our own key. */
export const idempotencyKeyHeader = z
  .string()
  .regex(/^[\w-]{8,100}$/)
  .optional();
