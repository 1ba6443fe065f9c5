import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../../infra/logger.js';
import type { EmailSender } from '../sender.js';

/** Development without a SendGrid key: each message becomes files a person can open. */
export function createDevFolderSender(options: { dir: string; logger: Logger }): EmailSender {
  return {
    name: 'dev-folder',
    async send(email) {
      const stamp = new Date().toISOString().replace(/[:.]/g, '-');
      const base = path.join(options.dir, `${stamp}-${email.category}-${email.jobId}`);
      await mkdir(options.dir, { recursive: true });
      const { html, text, ...envelope } = email;
      await Promise.all([
        writeWhole(`${base}.html`, html),
        writeWhole(`${base}.txt`, text),
        writeWhole(`${base}.json`, JSON.stringify(envelope, null, 2)),
      ]);
      options.logger.info(
        { jobId: email.jobId, file: `${base}.html` },
        'email written to the development mail folder',
      );
      return { providerMessageId: `dev-${email.jobId}` };
    },
  };
}

/** Written under a temporary name, then renamed: whoever watches the folder never opens half a file. */
async function writeWhole(file: string, content: string): Promise<void> {
  await writeFile(`${file}.partial`, content);
  await rename(`${file}.partial`, file);
}
