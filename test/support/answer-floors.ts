/**
 * Answer floors small enough not to slow the suite (the defaults, 60 to 250 ms, would add seconds to
 * every file that signs in or signs up). The tests that assert a floor start an app with
 * `DEPLOYED_ANSWER_FLOORS` instead.
 */
export const FAST_ANSWER_FLOORS = {
  SIGN_IN_ANSWER_MS: '2',
  SIGNUP_ANSWER_MS: '2',
  SPONSORSHIP_REQUEST_ANSWER_MS: '2',
} as const;
/** Overrides that put the answer floors back to their defaults, as deployed. */
export const DEPLOYED_ANSWER_FLOORS = {
  SIGN_IN_ANSWER_MS: undefined,
  SIGNUP_ANSWER_MS: undefined,
  SPONSORSHIP_REQUEST_ANSWER_MS: undefined,
} as const;
