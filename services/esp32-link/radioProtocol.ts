import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { RadioCommand, RadioFrame } from '../../machines/esp32Link.ts';
import { nodeIdOf, type MeshNode } from '../../machines/lib/keySync.ts';
import { encodeFrame } from './framing.ts';
import { Mesh, type FromRadio, type NodeInfo, type ToRadio } from './meshtasticProtobufs.ts';

/**
 * FromRadio / ToRadio ↔ the link machine's vocabulary. Decoding never throws: a payload
 * that is not a FromRadio is `null` (the deframer then treats its header as noise).
 */

export function decodeFromRadio(payload: Uint8Array): FromRadio | null {
  try {
    return fromBinary(Mesh.FromRadioSchema, payload);
  } catch {
    return null;
  }
}

export function decodeToRadio(payload: Uint8Array): ToRadio | null {
  try {
    return fromBinary(Mesh.ToRadioSchema, payload);
  } catch {
    return null;
  }
}

/** Variants sent during the config phase that the link only counts. */
const CONFIG_PARTS = new Set(['config', 'moduleConfig', 'channel', 'metadata', 'deviceuiConfig', 'fileInfo']);

export function meshNodeOf(info: NodeInfo): MeshNode {
  const user = info.user;
  return {
    num: info.num >>> 0,
    id: user?.id || nodeIdOf(info.num),
    longName: user?.longName ?? '',
    shortName: user?.shortName ?? '',
    hwModel: user?.hwModel ?? 0,
    publicKey: user && user.publicKey.length > 0 ? Buffer.from(user.publicKey).toString('base64') : null,
    lastHeard: info.lastHeard >>> 0,
  };
}

export function radioFrameOf(message: FromRadio): RadioFrame {
  const v = message.payloadVariant;
  switch (v.case) {
    case 'myInfo':
      return { kind: 'myInfo', myNodeNum: v.value.myNodeNum >>> 0, rebootCount: v.value.rebootCount };
    case 'nodeInfo':
      return { kind: 'nodeInfo', node: meshNodeOf(v.value) };
    case 'configCompleteId':
      return { kind: 'configComplete', id: v.value >>> 0 };
    case 'rebooted':
      return v.value ? { kind: 'rebooted' } : { kind: 'other', variant: 'rebooted(false)' };
    case 'packet':
      return {
        kind: 'packet',
        from: v.value.from >>> 0,
        portnum: v.value.payloadVariant.case === 'decoded' ? v.value.payloadVariant.value.portnum : null,
      };
    case undefined: {
      // a variant this build of the protobufs does not know (it lands in $unknown)
      const unknown = (message as { $unknown?: Array<{ no: number }> }).$unknown;
      return { kind: 'other', variant: unknown?.length ? `unknown(${unknown.map((u) => u.no).join(',')})` : 'empty' };
    }
    default:
      return CONFIG_PARTS.has(v.case) ? { kind: 'configPart', part: v.case } : { kind: 'other', variant: v.case };
  }
}

function toRadio(payloadVariant: ToRadio['payloadVariant']): Uint8Array {
  return encodeFrame(toBinary(Mesh.ToRadioSchema, create(Mesh.ToRadioSchema, { payloadVariant })));
}

/** A framed ToRadio for what the link asks. */
export function encodeRadioCommand(command: RadioCommand): Uint8Array {
  switch (command.type) {
    case 'radio.wantConfig':
      return toRadio({ case: 'wantConfigId', value: command.nonce });
    case 'radio.heartbeat':
      return toRadio({ case: 'heartbeat', value: create(Mesh.HeartbeatSchema, { nonce: 0 }) });
  }
}

/** `ToRadio.disconnect`: optional politeness before closing the socket. */
export function encodeDisconnect(): Uint8Array {
  return toRadio({ case: 'disconnect', value: true });
}
