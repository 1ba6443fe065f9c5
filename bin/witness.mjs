#!/usr/bin/env node
// A transparency-log witness (c2sp.org/tlog-witness) that another newsroom, a readers' association
// or a journalist can host: Node 20 and this folder, no database. It cosigns a drive log's
// checkpoints (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1) only while each one extends the
// last it cosigned. Protocol: bin/tlog-witness.mjs; operating it: src/campaigns/drive-log/README.md.
//
//   node bin/witness.mjs --name witness.example/w1 --log <log vkey> [--log <vkey>]… [options]
//   npm run witness -- …   (in a clone)
//
// Options: --config FILE   JSON { name, key, state, host, port, logs: [{ origin, vkeys: [...] }] };
//                          flags override it
//          --name NAME     the witness's key name (a schema-less URL); needed when the key is made
//          --key FILE      its private key; made on first run (mode 0600). Default witness.key
//          --state FILE    the latest checkpoint cosigned per log (JSON). Default witness-state.json
//          --log VKEY      witness the log whose origin is this vkey's name (repeatable)
//          --host, --port  where to listen (default 127.0.0.1:7380; --port 0 picks a free port)
//
// It prints its vkey, which the log operator configures (DRIVE_WITNESSES) and readers pass to
// `verify-drive --witness`. Exit 2: bad arguments, a key or state file it cannot read, or another
// witness process holding the state file.

import { randomBytes } from 'node:crypto';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createWitness, formatPrivateKey, parsePrivateKey } from './tlog-witness.mjs';

const MAX_BODY = 64 * 1024;

function fail(message) {
  console.error(`witness: ${message}`);
  process.exit(2);
}

function options() {
  const args = process.argv.slice(2);
  const flags = { logs: [] };
  for (let i = 0; i < args.length; i++) {
    const value = () => (i + 1 < args.length ? args[++i] : fail(`${args[i]} needs a value`));
    const flag = args[i];
    if (flag === '--help') {
      console.log(
        'usage: witness --name NAME --log VKEY [--log VKEY]… [--key FILE] [--state FILE] [--host H] [--port P] [--config FILE]',
      );
      process.exit(0);
    } else if (flag === '--config') Object.assign(flags, { config: value() });
    else if (['--name', '--key', '--state', '--host', '--port'].includes(flag))
      flags[flag.slice(2)] = value();
    else if (flag === '--log') {
      const vkey = value();
      flags.logs.push({ origin: vkey.split('+')[0], vkeys: [vkey] });
    } else fail(`unknown argument ${flag}`);
  }
  const file = flags.config ? JSON.parse(readFileSync(flags.config, 'utf8')) : {};
  const logs = [...(Array.isArray(file.logs) ? file.logs : []), ...flags.logs];
  if (logs.some((log) => typeof log?.origin !== 'string' || !Array.isArray(log.vkeys)))
    fail('each log is { "origin": "...", "vkeys": ["..."] }');
  return {
    name: flags.name ?? file.name,
    key: flags.key ?? file.key ?? 'witness.key',
    state: flags.state ?? file.state ?? 'witness-state.json',
    host: flags.host ?? file.host ?? '127.0.0.1',
    port: Number(flags.port ?? file.port ?? 7380),
    logs,
  };
}

/** The key file, made on first run: never overwritten, readable by its owner only. */
function loadKey(path, name) {
  let text;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (error.code !== 'ENOENT') throw error;
    if (!name || /[\s+]/u.test(name)) fail('--name (no spaces, no "+") is needed to make a key');
    text = formatPrivateKey(name, randomBytes(32));
    writeFileSync(path, `${text}\n`, { mode: 0o600, flag: 'wx' });
    console.error(`witness: made a new key in ${path}`);
  }
  const key = parsePrivateKey(text);
  if (name && name !== key.name) fail(`${path} is the key of ${key.name}, not ${name}`);
  return key;
}

/** One process per state file: two would each accept a checkpoint the other just refused. */
async function lock(path) {
  const lockPath = `${path}.lock`;
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(lockPath, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      const release = () => rmSync(lockPath, { force: true });
      process.on('exit', release);
      return;
    } catch (error) {
      if (error.code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(lockPath, 'utf8'));
      try {
        process.kill(pid, 0);
        fail(`${lockPath}: witness process ${pid} holds this state`);
      } catch (signalError) {
        if (signalError.code !== 'ESRCH') throw signalError;
        rmSync(lockPath, { force: true }); // its process died: take the state over
      }
    }
  }
  fail(`${lockPath}: could not take the lock`);
}

/** The state, or an empty one on first run; an unreadable state stops the witness (it would forget). */
function loadState(path) {
  try {
    const state = JSON.parse(readFileSync(path, 'utf8'));
    if (state?.version !== 1 || typeof state.logs !== 'object') fail(`${path} is not a witness state file`);
    return state;
  } catch (error) {
    if (error.code === 'ENOENT') return { version: 1, logs: {} };
    fail(`${path}: ${error.message}`);
  }
}

/** Written whole to a temporary file, flushed, renamed over the old one: never half a state. */
function saveState(path) {
  return async (state) => {
    const temporary = `${path}.${process.pid}.tmp`;
    const handle = await open(temporary, 'w', 0o600);
    await handle.writeFile(`${JSON.stringify(state, null, 2)}\n`);
    await handle.sync();
    await handle.close();
    renameSync(temporary, path);
  };
}

const settings = options();
const key = loadKey(settings.key, settings.name);
await lock(settings.state);
const witness = createWitness({
  name: key.name,
  seed: key.seed,
  logs: settings.logs,
  state: loadState(settings.state),
  save: saveState(settings.state),
});

const server = createServer(async (req, res) => {
  const reply = ({ status, body, type }) => {
    res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  };
  try {
    const url = new URL(req.url ?? '/', 'http://witness');
    if (url.pathname === '/add-checkpoint') {
      if (req.method !== 'POST') return reply({ status: 405, body: 'POST only\n', type: 'text/plain' });
      const chunks = [];
      let size = 0;
      for await (const chunk of req) {
        size += chunk.length;
        if (size > MAX_BODY) return reply({ status: 413, body: 'too large\n', type: 'text/plain' });
        chunks.push(chunk);
      }
      return reply(await witness.addCheckpoint(Buffer.concat(chunks).toString('utf8')));
    }
    const monitored = /^\/([0-9a-f]{64})\/checkpoint$/.exec(url.pathname);
    if (req.method === 'GET' && monitored) {
      const note = witness.checkpointOf(monitored[1]);
      return reply(
        note
          ? { status: 200, body: note, type: 'text/plain; charset=utf-8' }
          : { status: 404, body: 'no checkpoint of that log cosigned\n', type: 'text/plain' },
      );
    }
    if (req.method === 'GET' && url.pathname === '/')
      return reply({
        status: 200,
        body: `${witness.vkey}\n${witness.origins().join('\n')}\n`,
        type: 'text/plain; charset=utf-8',
      });
    reply({ status: 404, body: 'not found\n', type: 'text/plain' });
  } catch (error) {
    console.error(`witness: ${error.stack ?? error}`);
    if (!res.headersSent) reply({ status: 500, body: 'internal error\n', type: 'text/plain' });
  }
});

for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2_000).unref();
  });
server.listen(settings.port, settings.host, () => {
  const { port } = server.address();
  console.log(`witness ${witness.vkey}`);
  console.log(`listening on http://${settings.host}:${port}, witnessing ${witness.origins().length} log(s)`);
});
