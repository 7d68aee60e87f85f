import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { cpuTimeMs } from './proc.ts';
import { sleep } from './scope.ts';

/** Busy and total CPU time of the whole machine so far, ms (all cores), from /proc/stat. */
export function machineCpuMs(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  const [, ...fields] = line.trim().split(/\s+/);
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields.map(Number);
  const busy = user + nice + system + irq + softirq + steal;
  return { busy: busy * 10, total: (busy + idle + iowait) * 10 }; // USER_HZ = 100
}

/** Share of the machine (0..1, all cores) busy over `ms`. */
export async function machineBusyShare(ms: number): Promise<number> {
  const a = machineCpuMs();
  await sleep(ms);
  const b = machineCpuMs();
  return (b.busy - a.busy) / Math.max(1, b.total - a.total);
}

/**
 * This is a shared machine: before a benchmark, waits (at most `maxWaitMs`) until other
 * processes leave it nearly idle, so they do not distort the figures. Returns the busy
 * share of the last sample (reported with the results).
 */
export async function waitForQuietMachine(maxWaitMs: number, log: (line: string) => void, threshold = 0.1): Promise<number> {
  const deadline = Date.now() + maxWaitMs;
  let share = await machineBusyShare(1_000);
  let said = false;
  while (share > threshold && Date.now() < deadline) {
    if (!said) log(`machine ${(share * 100).toFixed(0)} % busy with other processes; waiting up to ${Math.round(maxWaitMs / 1000)} s for it to calm down`);
    said = true;
    share = await machineBusyShare(2_000);
  }
  if (share > threshold) log(`machine still ${(share * 100).toFixed(0)} % busy: running anyway (figures may be pessimistic)`);
  return share;
}

/**
 * Over a measurement: the CPU the machine spent outside the given processes, as a share
 * of all cores — how much other work competed with the benchmark.
 */
export function backgroundMeter(pids: () => number[]): () => { otherShare: number; ownMs: number; wallMs: number } {
  const own = (): number => pids().reduce((sum, pid) => {
    try {
      return sum + cpuTimeMs(pid);
    } catch {
      return sum;
    }
  }, 0);
  const start = machineCpuMs();
  const ownStart = own();
  const t0 = Date.now();
  return () => {
    const end = machineCpuMs();
    const ownMs = own() - ownStart;
    const total = Math.max(1, end.total - start.total);
    return { otherShare: Math.max(0, end.busy - start.busy - ownMs) / total, ownMs, wallMs: Date.now() - t0 };
  };
}

export const CORES = cpus().length;
