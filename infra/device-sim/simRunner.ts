import { isSimBehaviorName, describeBehavior, type SimBehaviorName } from './behavior.ts';
import { pickDistinct, seededRandom } from './random.ts';
import { connectSimDevice, type SimDevice, type SimDeviceClosed } from './simDevice.ts';

export interface SimRunnerOptions {
  host: string;
  port: number;
  devices: number;
  nodes: number;
  prefix: string;
  behavior: SimBehaviorName;
  resultDelayMs: number;
  /** A device whose socket closed reconnects after this; 0 = it stays closed. */
  reconnectDelayMs: number;
  /** Connection handshakes in flight at most. */
  concurrency: number;
  /** No status line per command received. */
  quiet: boolean;
}

export interface ChaosOptions {
  intervalMs: number;
  /** A device left silent or hanging by chaos is closed after this, so it reconnects. */
  pauseMs: number;
  seed: number;
}

/** One status line about one device (`device`) or about the whole run (`undefined`). */
export type SimRunnerReport = (device: string | undefined, text: string) => void;

/** Disturbances that chaos mode picks from. */
export const CHAOS_ACTIONS = ['crash', 'silent', 'garbage', 'hang'] as const;
type ChaosAction = (typeof CHAOS_ACTIONS)[number];

export const RUNNER_COMMANDS_HELP = [
  'crash <dev>            TCP reset',
  'silent <dev>           stop answering anything (pulled cable)',
  'garbage <dev>          send a line that is not JSON',
  'unknown <dev>          send valid JSON of an unknown message type',
  'oversize <dev>         send a 70,000-byte line',
  'hang <dev>             never ack commands from now on',
  'behavior <dev> <name>  answer commands like <name>',
  'close <dev>            close cleanly and stay closed',
  'open <dev>             reconnect a closed device',
  'list                   show every device',
  'help                   this list',
  'quit                   close everything and exit',
];

type SlotState = 'queued' | 'connecting' | 'connected' | 'waiting' | 'closed';

interface Slot {
  readonly name: string;
  state: SlotState;
  device: SimDevice | undefined;
  /** `close <dev>` was asked: no reconnect until `open <dev>`. */
  held: boolean;
  /** A reconnect, or a chaos recycle of the current connection. */
  timer: NodeJS.Timeout | undefined;
  /** What was done to the current connection, if anything. */
  disturbed: string | undefined;
  connections: number;
}

/**
 * Keeps a fleet of simulated devices connected for the CLI: connects with bounded concurrency,
 * reconnects devices whose socket closed, applies on-demand actions and chaos, and reports
 * every device event as one status line.
 */
export class SimRunner {
  readonly #opts: SimRunnerOptions;
  readonly #report: SimRunnerReport;
  readonly #slots = new Map<string, Slot>();
  readonly #queue: Slot[] = [];
  readonly #inflight = new Set<Promise<void>>();
  readonly #abort = new AbortController();
  #active = 0;
  #stopping = false;
  #chaosTimer: NodeJS.Timeout | undefined;

  constructor(opts: SimRunnerOptions, report: SimRunnerReport) {
    this.#opts = opts;
    this.#report = report;
    for (let i = 1; i <= opts.devices; i++) {
      const name = `${opts.prefix}${i}`;
      this.#slots.set(name, { name, state: 'closed', device: undefined, held: false, timer: undefined, disturbed: undefined, connections: 0 });
    }
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Devices with an open, welcomed connection. */
  get connectedCount(): number {
    let n = 0;
    for (const slot of this.#slots.values()) if (slot.state === 'connected') n++;
    return n;
  }

  start(): void {
    for (const slot of this.#slots.values()) this.#enqueue(slot);
  }

  startChaos(chaos: ChaosOptions): void {
    const random = seededRandom(chaos.seed);
    this.#report(undefined, `chaos on: one disturbance every ${chaos.intervalMs} ms (seed ${chaos.seed})`);
    this.#chaosTimer = setInterval(() => this.#chaosTick(random, chaos.pauseMs), chaos.intervalMs);
  }

  /** Runs one stdin command line; returns false for `quit`. */
  perform(line: string): boolean {
    const [verb, name, arg] = line.trim().split(/\s+/);
    if (!verb) return true;
    switch (verb) {
      case 'help':
        for (const help of RUNNER_COMMANDS_HELP) this.#report(undefined, help);
        return true;
      case 'list':
        this.#list();
        return true;
      case 'quit':
      case 'exit':
        return false;
      case 'crash':
      case 'silent':
      case 'garbage':
      case 'unknown':
      case 'oversize':
      case 'hang':
      case 'behavior':
      case 'close':
      case 'open': {
        const slot = name === undefined ? undefined : this.#slots.get(name);
        if (!slot) {
          this.#report(undefined, name === undefined ? `usage: ${verb} <device>` : `no device named '${name}' (try 'list')`);
          return true;
        }
        this.#act(slot, verb, arg);
        return true;
      }
      default:
        this.#report(undefined, `unknown command '${verb}' (try 'help')`);
        return true;
    }
  }

  /** Closes every device (FIN, or RST when `force`) and resolves when every socket is closed. */
  async stop(force = false): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      clearInterval(this.#chaosTimer);
      this.#queue.length = 0;
      this.#abort.abort();
    }
    const closing: Promise<unknown>[] = [];
    for (const slot of this.#slots.values()) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
      if (slot.device) {
        if (force) slot.device.crash();
        else slot.device.close();
        closing.push(slot.device.closed);
      } else if (slot.state !== 'connecting') {
        slot.state = 'closed';
      }
    }
    await Promise.all([...closing, ...this.#inflight]);
  }

  // ---- connecting ---------------------------------------------------------------------------

  #enqueue(slot: Slot): void {
    if (this.#stopping) return;
    slot.state = 'queued';
    this.#queue.push(slot);
    this.#pump();
  }

  #pump(): void {
    while (!this.#stopping && this.#active < this.#opts.concurrency) {
      const slot = this.#queue.shift();
      if (!slot) return;
      if (slot.state !== 'queued') continue;
      this.#active++;
      const attempt = this.#connect(slot).finally(() => {
        this.#active--;
        this.#inflight.delete(attempt);
        this.#pump();
      });
      this.#inflight.add(attempt);
    }
  }

  async #connect(slot: Slot): Promise<void> {
    slot.state = 'connecting';
    let device: SimDevice;
    try {
      device = await connectSimDevice({
        host: this.#opts.host,
        port: this.#opts.port,
        name: slot.name,
        nodes: this.#opts.nodes,
        behavior: this.#opts.behavior,
        resultDelayMs: this.#opts.resultDelayMs,
        signal: this.#abort.signal,
      });
    } catch (err) {
      slot.state = 'closed';
      if (this.#stopping) return;
      this.#report(slot.name, `connect failed: ${(err as Error).message}`);
      this.#afterClose(slot);
      return;
    }
    if (this.#stopping || slot.held) {
      slot.state = 'closed';
      await device.close();
      return;
    }
    slot.device = device;
    slot.state = 'connected';
    slot.disturbed = undefined;
    slot.connections++;
    this.#report(slot.name, `connected id=${device.id}${slot.connections > 1 ? ` (connection #${slot.connections})` : ''}`);
    if (!this.#opts.quiet) {
      device.onCommand((c) => this.#report(slot.name, `command ${c.id} '${c.command}' node=${c.node_id} instance=${c.instance} → ${c.behavior}`));
    }
    void device.closed.then((closed) => this.#onClosed(slot, device, closed));
  }

  #onClosed(slot: Slot, device: SimDevice, closed: SimDeviceClosed): void {
    if (slot.device !== device) return;
    slot.device = undefined;
    slot.state = 'closed';
    clearTimeout(slot.timer);
    slot.timer = undefined;
    const code = (closed.error as NodeJS.ErrnoException | undefined)?.code;
    this.#report(slot.name, `closed: ${closed.reason}${code ? ` ${code}` : ''}${slot.disturbed ? ` (after ${slot.disturbed})` : ''}`);
    slot.disturbed = undefined;
    if (!this.#stopping) this.#afterClose(slot);
  }

  #afterClose(slot: Slot): void {
    if (slot.held) return;
    if (this.#opts.reconnectDelayMs === 0) {
      this.#report(slot.name, `stays closed (reconnect delay 0); 'open ${slot.name}' reconnects it`);
      return;
    }
    slot.state = 'waiting';
    this.#report(slot.name, `reconnecting in ${this.#opts.reconnectDelayMs} ms`);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      this.#enqueue(slot);
    }, this.#opts.reconnectDelayMs);
  }

  // ---- actions ------------------------------------------------------------------------------

  #act(slot: Slot, verb: string, arg: string | undefined): void {
    if (verb === 'open') {
      slot.held = false;
      if (slot.state === 'closed' || slot.state === 'waiting') {
        clearTimeout(slot.timer);
        slot.timer = undefined;
        this.#report(slot.name, 'opening');
        this.#enqueue(slot);
      } else {
        this.#report(slot.name, `already ${slot.state}`);
      }
      return;
    }
    if (verb === 'close') {
      slot.held = true;
      if (slot.device) {
        this.#report(slot.name, 'closing (stays closed)');
        void slot.device.close();
      } else {
        clearTimeout(slot.timer);
        slot.timer = undefined;
        this.#report(slot.name, `held closed (was ${slot.state})`);
        if (slot.state === 'waiting' || slot.state === 'queued') slot.state = 'closed';
      }
      return;
    }
    const device = slot.device;
    if (!device || !device.isOpen) {
      this.#report(slot.name, `not connected (${slot.state})`);
      return;
    }
    switch (verb) {
      case 'crash':
        this.#disturb(slot, 'crashing (RST)');
        device.crash();
        return;
      case 'silent':
        this.#disturb(slot, 'going silent');
        device.goSilent();
        return;
      case 'garbage':
        this.#disturb(slot, 'sending garbage');
        device.sendGarbage();
        return;
      case 'unknown':
        this.#disturb(slot, 'sending an unknown message');
        device.sendUnknown();
        return;
      case 'oversize':
        this.#disturb(slot, 'sending a 70,000-byte line');
        device.sendOversizedLine();
        return;
      case 'hang':
        this.#disturb(slot, 'hanging on commands');
        device.setBehavior('hang');
        return;
      case 'behavior':
        if (arg === undefined || !isSimBehaviorName(arg)) {
          this.#report(undefined, `usage: behavior <device> <name>; name is one of normal, fail, hang, no-result, crash-on-command, garbage-on-command, unknown-on-command, oversized-on-command`);
          return;
        }
        device.setBehavior(arg);
        this.#report(slot.name, `behavior ${arg}`);
        return;
    }
  }

  #disturb(slot: Slot, what: string): void {
    slot.disturbed = what;
    this.#report(slot.name, what);
  }

  #chaosTick(random: () => number, pauseMs: number): void {
    const candidates = [...this.#slots.values()].filter((s) => s.state === 'connected' && !s.disturbed && s.device?.isOpen);
    const [slot] = pickDistinct(candidates, 1, random);
    if (!slot?.device) return;
    const action: ChaosAction = CHAOS_ACTIONS[Math.floor(random() * CHAOS_ACTIONS.length)] ?? 'crash';
    const device = slot.device;
    this.#report(undefined, `chaos: ${action} ${slot.name}`);
    this.#act(slot, action, undefined);
    if (action === 'crash') return;
    // Silent and hanging devices, and garbage the gateway tolerated, are recycled after a pause.
    clearTimeout(slot.timer);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (slot.device === device && device.isOpen) {
        this.#report(slot.name, `chaos pause over after ${pauseMs} ms: closing to reconnect`);
        void device.close();
      }
    }, pauseMs);
  }

  #list(): void {
    this.#report(undefined, `${this.connectedCount}/${this.#slots.size} connected`);
    for (const slot of this.#slots.values()) {
      const d = slot.device;
      const details = d
        ? ` id=${d.id} behavior=${describeBehavior(d.behavior)} commands=${d.commands.length} pings=${d.pings}${d.silent ? ' silent' : ''}`
        : '';
      this.#report(slot.name, `${slot.state}${slot.held ? ' (held)' : ''}${details}${slot.disturbed ? ` [${slot.disturbed}]` : ''}`);
    }
  }
}
