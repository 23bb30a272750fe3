/**
 * CPU time and memory of processes, read from /proc (Linux): a process group (the worker: tsx and
 * its node child), a server with the children it forks and reaps (PostgreSQL's backends), and the
 * whole machine. Sampled during a run; the difference between two readings is what the run cost.
 */
import fs from 'node:fs';

const TICK_MS = 10; // CLK_TCK 100 on Linux

interface Stat {
  pid: number;
  ppid: number;
  pgrp: number;
  /** utime + stime of the process itself, ms. */
  ownMs: number;
  /** cutime + cstime: its reaped children's, ms. */
  childrenMs: number;
}

function readStat(pid: number): Stat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may contain spaces: fields start after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const field = (n: number) => Number(fields[n - 3]);
  return { pid, ppid: field(4), pgrp: field(5), ownMs: (field(14) + field(15)) * TICK_MS, childrenMs: (field(16) + field(17)) * TICK_MS };
}

function allStats(): Stat[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => readStat(Number(entry)))
    .filter((stat): stat is Stat => stat !== undefined);
}

function rssBytes(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** What a process group (the worker) has used so far: CPU ms and resident memory now. */
export function groupUsage(pgrp: number): { cpuMs: number; rssBytes: number } {
  const members = allStats().filter((stat) => stat.pgrp === pgrp);
  return { cpuMs: members.reduce((sum, stat) => sum + stat.ownMs + stat.childrenMs, 0), rssBytes: members.reduce((sum, stat) => sum + rssBytes(stat.pid), 0) };
}

/** CPU ms of a server and every descendant, living or reaped (PostgreSQL's backends come and go). */
export function treeCpuMs(pid: number): number {
  const stats = allStats();
  const children = new Map<number, Stat[]>();
  for (const stat of stats) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const root = stats.find((stat) => stat.pid === pid);
  if (!root) return 0;
  let total = 0;
  const queue = [root];
  for (let stat = queue.pop(); stat; stat = queue.pop()) {
    total += stat.ownMs + stat.childrenMs;
    queue.push(...(children.get(stat.pid) ?? []));
  }
  return total;
}

/** The machine's busy and total CPU ms across all cores since boot (/proc/stat). */
export function machineCpuMs(): { busyMs: number; totalMs: number } {
  const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((sum, value) => sum + value, 0);
  const idle = (values[3] ?? 0) + (values[4] ?? 0);
  return { busyMs: (total - idle) * TICK_MS, totalMs: total * TICK_MS };
}

/** A pid from the stack's run directory (`.stack/run/<name>.pid`), or undefined. */
export function stackPid(name: string, stackDir = process.env.STACK_DIR ?? '.stack'): number | undefined {
  try {
    const pid = Number(fs.readFileSync(`${stackDir}/run/${name}.pid`, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
