import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { openDatabase, readConfigOrExit } from '../bootstrap.js';
import { isDuplicateKey } from '../infra/db.js';
import { createLogger } from '../infra/logger.js';
import { STAFF_ROLES, type StaffRole } from '../staff/staff.model.js';
import { createStaffUser } from '../staff/staff-auth.service.js';
import { runCli } from './cli-support.js';

const USAGE = `Usage:
  npm run staff -- create --email EMAIL --name NAME [--role admin|finance|editor]
The password is read from STAFF_PASSWORD, or generated and printed once.`;

async function main(): Promise<number> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: {
      email: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string', default: 'admin' },
    },
  });
  if (
    positionals[0] !== 'create' ||
    !values.email ||
    !values.name ||
    !STAFF_ROLES.includes(values.role as StaffRole)
  ) {
    console.error(USAGE);
    return 2;
  }
  const config = readConfigOrExit();
  const database = await openDatabase(config, createLogger({ level: 'warn' }));
  try {
    const generated = !process.env.STAFF_PASSWORD;
    const password = process.env.STAFF_PASSWORD ?? randomBytes(18).toString('base64url');
    const user = await createStaffUser(database.db, {
      email: values.email,
      name: values.name,
      role: values.role as StaffRole,
      password,
    });
    console.log(`Created ${user.role} ${user.email}.`);
    if (generated) console.log(`Password (shown once, store it in your password manager): ${password}`);
    return 0;
  } catch (error) {
    if (isDuplicateKey(error)) {
      console.error(`A staff user with the email ${values.email} already exists.`);
      return 1;
    }
    throw error;
  } finally {
    await database.close();
  }
}

runCli(main);
