import type { Capability } from '../infra/capability.js';
import { registerEmailModels } from './email.model.js';

/** Queued email (the outbox) and SendGrid's events about it; its worker is built in src/background.ts. */
export const emailCapability: Capability = {
  name: 'email',
  models: registerEmailModels,
};
