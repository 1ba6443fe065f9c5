import type { Connection } from 'mongoose';
import type { StaffRole } from '../../src/staff/staff.model.js';
import { createStaffUser } from '../../src/staff/staff-auth.service.js';

export const STAFF_PASSWORD = 'correct horse battery staple';

/** Creates a staff user and signs them in through the API; returns the bearer header. */
export async function staffToken(
  baseUrl: string,
  db: Connection,
  role: StaffRole,
  email = `${role}@newsroom.example`,
) {
  await createStaffUser(db, { email, name: `${role} person`, role, password: STAFF_PASSWORD }).catch(
    (error) => {
      if ((error as { code?: number }).code !== 11000) throw error;
    },
  );
  const res = await fetch(`${baseUrl}/staff/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: STAFF_PASSWORD }),
  });
  const tokens = (await res.json()) as { accessToken: string; refreshToken: string };
  return { authorization: `Bearer ${tokens.accessToken}`, ...tokens };
}
