import { create } from '@bufbuild/protobuf';
import { nodeIdOf } from '../../machines/lib/keySync.ts';
import { Mesh, type NodeInfo } from '../../services/esp32-link/meshtasticProtobufs.ts';
import { seededRandom } from '../device-sim/random.ts';

/** One node in the emulated radio's database. */
export interface EmulatedNode {
  num: number;
  longName: string;
  shortName: string;
  /** HardwareModel enum value (43 = HELTEC_V3). */
  hwModel: number;
  /** Curve25519 public key: 32 bytes, or empty for a node that has none. */
  publicKey: Uint8Array;
  /** Seconds since the epoch. */
  lastHeard: number;
}

const NAMES = ['Alder', 'Birch', 'Cedar', 'Dune', 'Ember', 'Fjord', 'Gale', 'Heath', 'Isle', 'Juniper', 'Kestrel', 'Larch'];

export interface NodeDbOptions {
  count: number;
  /** Same seed, same database (numbers, names, keys). */
  seed?: number;
  /** The radio's own node number (first entry). */
  myNodeNum?: number;
  /** Every `withoutKeyEvery`-th node reports no key (0: all have keys). */
  withoutKeyEvery?: number;
  /** Seconds since the epoch for last_heard (default: 2024-06-01). */
  now?: number;
}

export const DEFAULT_MY_NODE_NUM = 0x0a11ce01;

/** A deterministic node database: the radio's own node first, then `count - 1` others. */
export function generateNodeDb(options: NodeDbOptions): EmulatedNode[] {
  const random = seededRandom(options.seed ?? 6);
  const now = options.now ?? 1_717_200_000;
  const used = new Set<number>();
  const nodes: EmulatedNode[] = [];
  for (let i = 0; i < options.count; i++) {
    let num = i === 0 ? (options.myNodeNum ?? DEFAULT_MY_NODE_NUM) : Math.floor(random() * 0xffff_fff0) + 1;
    while (used.has(num)) num = (num % 0xffff_fff0) + 1;
    used.add(num);
    const name = `${NAMES[i % NAMES.length]} ${i}`;
    const keyless = options.withoutKeyEvery ? i > 0 && i % options.withoutKeyEvery === 0 : false;
    nodes.push({
      num,
      longName: name,
      shortName: `${name.slice(0, 2).toUpperCase()}${(i % 100).toString().padStart(2, '0')}`,
      hwModel: 43,
      publicKey: keyless ? new Uint8Array(0) : Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256)),
      lastHeard: now - Math.floor(random() * 86_400),
    });
  }
  return nodes;
}

export function nodeInfoOf(node: EmulatedNode): NodeInfo {
  return create(Mesh.NodeInfoSchema, {
    num: node.num,
    lastHeard: node.lastHeard,
    snr: 6.25,
    user: create(Mesh.UserSchema, {
      id: nodeIdOf(node.num),
      longName: node.longName,
      shortName: node.shortName,
      hwModel: node.hwModel,
      publicKey: node.publicKey,
    }),
  });
}

/** 32 random bytes from a seed: a "new" key for a node. */
export function keyFromSeed(seed: number): Uint8Array {
  const random = seededRandom(seed);
  return Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256));
}
