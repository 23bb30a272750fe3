/**
 * The program `docker exec` runs in a node's container to run a command under a record, as
 * JavaScript for the container's own `node`: a NocoBase node always has Node.js, not always a
 * shell (the stand-in image has none), and Docker's exec API has no kill, so the record is how a
 * second exec finds, waits for or kills the first one's process.
 *
 * `node -e SCRIPT <mode> <dir> <id> <token|grace-ms> [command...]`, files `<dir>/<id>.*`:
 *   .pid   {runner, child}: each {pid, start}; `start` is /proc's start time, so a PID reused after
 *          a container restart is never taken for ours. Created with link(2): one claimant wins.
 *   .out   the command's output so far (what a follower echoes)
 *   .json  {exitCode, output, token, finishedAt}: the outcome, written once the command ended
 *
 * run:    the outcome if recorded; else follow the live runner until it records one; else (no
 *         runner, or a dead one whose command may live on) kill what is left and run the command,
 *         echoing its output and recording its outcome. Never two runs of one id at once.
 * status: prints {result, running}.
 * kill:   SIGTERM to the runner (which passes it to the command's process group, records nothing
 *         and exits), SIGKILL to both after the grace; then clears the record of that runner.
 *         A recorded outcome is kept: the command had ended before the kill.
 */
export const COMMAND_RECORD_SCRIPT = String.raw`
'use strict';
const fs = require('fs');
const path = require('path');
const os = require('os');
const { spawn } = require('child_process');
const [mode, dir, id, arg, ...command] = process.argv.slice(1);
const PID = path.join(dir, id + '.pid');
const OUT = path.join(dir, id + '.out');
const RESULT = path.join(dir, id + '.json');
const LIMIT = 16384;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const quiet = (work) => { try { return work(); } catch (error) { return undefined; } };

function startTime(pid) {
  const stat = quiet(() => fs.readFileSync('/proc/' + pid + '/stat', 'utf8'));
  if (!stat) return null;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[0] === 'Z' || fields[0] === 'X' ? null : fields[19];
}
const alive = (entry) => !!entry && entry.pid > 0 && startTime(entry.pid) === entry.start;
const same = (a, b) => !!a && !!b && a.pid === b.pid && a.start === b.start;
const readJson = (file) => quiet(() => JSON.parse(fs.readFileSync(file, 'utf8'))) || null;
function writeJson(file, value) {
  fs.writeFileSync(file + '.tmp', JSON.stringify(value));
  fs.renameSync(file + '.tmp', file);
}
function tail(file) {
  const bytes = quiet(() => fs.readFileSync(file)) || Buffer.alloc(0);
  return bytes.subarray(Math.max(0, bytes.length - LIMIT)).toString('utf8');
}
function writer(stream) {
  let open = true;
  stream.on('error', () => { open = false; });
  return (chunk) => { if (open) stream.write(chunk); };
}
const toStdout = writer(process.stdout);
const toStderr = writer(process.stderr);
const signalGroup = (entry, signal) => { if (entry) quiet(() => process.kill(-entry.pid, signal)); };
const signalOne = (entry, signal) => { if (entry) quiet(() => process.kill(entry.pid, signal)); };

function claim(record) {
  const temporary = PID + '.' + process.pid;
  fs.writeFileSync(temporary, JSON.stringify(record));
  try {
    fs.linkSync(temporary, PID);
    return true;
  } catch (error) {
    if (error.code === 'EEXIST') return false;
    throw error;
  } finally {
    fs.rmSync(temporary, { force: true });
  }
}

/** Removes the record of 'held' only if it still is the current one (a new run may have claimed since). */
function release(held) {
  const current = readJson(PID);
  if (current && same(current.runner, held.runner)) {
    fs.rmSync(PID, { force: true });
    fs.rmSync(OUT, { force: true });
  }
}

function execute(me) {
  return new Promise((resolve) => {
    const out = fs.openSync(OUT, 'w');
    const child = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    if (child.pid) writeJson(PID, Object.assign({}, me, { child: { pid: child.pid, start: startTime(child.pid) } }));
    let killed = false;
    let spawnError = null;
    process.on('SIGTERM', () => {
      killed = true;
      if (child.pid) signalGroup({ pid: child.pid }, 'SIGTERM');
    });
    child.stdout.on('data', (chunk) => { toStdout(chunk); fs.writeSync(out, chunk); });
    child.stderr.on('data', (chunk) => { toStderr(chunk); fs.writeSync(out, chunk); });
    child.on('error', (error) => { spawnError = error; });
    child.on('close', (code, signal) => {
      if (killed) {
        fs.closeSync(out);
        release(me);
        return resolve(143);
      }
      if (spawnError) {
        const line = 'cannot run ' + command[0] + ': ' + spawnError.message + '\n';
        toStderr(line);
        fs.writeSync(out, line);
      }
      fs.closeSync(out);
      const exitCode = spawnError || code < 0 ? 127 : code !== null ? code : 128 + (os.constants.signals[signal] || 0);
      writeJson(RESULT, { exitCode, output: tail(OUT), token: arg, finishedAt: new Date().toISOString() });
      release(me);
      resolve(exitCode);
    });
  });
}

async function follow(held) {
  let offset = 0;
  for (;;) {
    const bytes = quiet(() => fs.readFileSync(OUT));
    if (bytes && bytes.length > offset) {
      toStdout(bytes.subarray(offset));
      offset = bytes.length;
    }
    if (readJson(RESULT)) return 0;
    if (!alive(held.runner)) return readJson(RESULT) ? 0 : 1;
    await sleep(500);
  }
}

async function run() {
  fs.mkdirSync(dir, { recursive: true });
  const me = { runner: { pid: process.pid, start: startTime(process.pid) } };
  for (let look = 0; ; look++) {
    const done = readJson(RESULT);
    if (done) {
      toStdout(done.output);
      return 0;
    }
    if (claim(me)) return execute(me);
    const held = readJson(PID);
    if (!held || !held.runner) {
      await sleep(100);
      continue;
    }
    if (alive(held.runner)) return follow(held);
    if (readJson(RESULT)) continue;
    // The runner died without an outcome (killed, container restarted); its command may live on.
    signalGroup(held.child, 'SIGKILL');
    signalOne(held.child, 'SIGKILL');
    toStderr('an earlier run of this command ended without an outcome; running it again\n');
    release(held);
  }
}

async function kill() {
  const held = readJson(PID);
  if (!held || !held.runner) return { killed: false };
  const living = () => alive(held.runner) || alive(held.child);
  if (alive(held.runner)) signalOne(held.runner, 'SIGTERM');
  else signalGroup(held.child, 'SIGTERM');
  const deadline = Date.now() + Number(arg);
  while (living() && Date.now() < deadline) await sleep(100);
  signalGroup(held.child, 'SIGKILL');
  signalOne(held.child, 'SIGKILL');
  signalOne(held.runner, 'SIGKILL');
  for (let wait = 0; living() && wait < 50; wait++) await sleep(100);
  release(held);
  return { killed: true, gone: !living() };
}

(async () => {
  if (mode === 'run') process.exitCode = await run();
  else if (mode === 'status') {
    const held = readJson(PID);
    toStdout(JSON.stringify({ result: readJson(RESULT), running: !!held && alive(held.runner) }) + '\n');
  } else if (mode === 'kill') toStdout(JSON.stringify(await kill()) + '\n');
  else {
    toStderr('unknown mode ' + mode + '\n');
    process.exitCode = 2;
  }
})().catch((error) => {
  toStderr(String(error && error.stack || error) + '\n');
  process.exitCode = 125;
});
`;
