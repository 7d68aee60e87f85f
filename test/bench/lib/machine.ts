import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { execFileSync } from 'node:child_process';

export interface MachineFacts {
  node: string;
  nproc: number;
  cpuModel: string;
  memoryGiB: number;
  natsServer: string;
  date: string;
}

function natsServerVersion(): string {
  try {
    return execFileSync(process.env.NATS_SERVER_BIN ?? 'nats-server', ['--version'], { encoding: 'utf8', timeout: 5_000 }).trim();
  } catch {
    try {
      return execFileSync('/usr/sbin/nats-server', ['--version'], { encoding: 'utf8', timeout: 5_000 }).trim();
    } catch {
      return 'unknown';
    }
  }
}

function cpuModel(): string {
  const fromOs = cpus()[0]?.model;
  if (fromOs) return fromOs.trim();
  try {
    return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

export function machineFacts(): MachineFacts {
  return {
    node: process.version,
    nproc: availableParallelism(),
    cpuModel: cpuModel(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    natsServer: natsServerVersion(),
    date: new Date().toISOString(),
  };
}
