import type { z } from 'zod';
import { validationError } from './errors.js';

/** Parses untrusted input at the edge; a failure becomes a 422 listing each bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.infer<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw validationError(result.error);
  return result.data;
}
