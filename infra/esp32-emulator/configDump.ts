import { create, toBinary, type DescMessage, type Message } from '@bufbuild/protobuf';
import type { GenMessage } from '@bufbuild/protobuf/codegenv1';
import { SPECIAL_NONCE_ONLY_CONFIG, SPECIAL_NONCE_ONLY_NODES } from '../../machines/esp32Link.ts';
import { encodeFrame } from '../../services/esp32-link/framing.ts';
import { ChannelProtos, ConfigProtos, Mesh, ModuleConfigProtos, type Config, type FromRadio, type ModuleConfig } from '../../services/esp32-link/meshtasticProtobufs.ts';
import { nodeInfoOf, type EmulatedNode } from './nodeDb.ts';

export type FromRadioVariant = FromRadio['payloadVariant'];

export interface RadioIdentity {
  rebootCount: number;
  firmwareVersion: string;
}

export const MAX_CHANNELS = 8;

/** FromRadio → a framed payload. */
export function frameFromRadio(id: number, payloadVariant: FromRadioVariant): Uint8Array {
  return encodeFrame(toBinary(Mesh.FromRadioSchema, create(Mesh.FromRadioSchema, { id, payloadVariant })));
}

/**
 * What the firmware (PhoneAPI::getFromRadio) sends after `want_config_id = nonce`, in its
 * order: my_info, own node_info, metadata, 8 channels, every config, every module config,
 * the other node_infos, then `config_complete_id = nonce`. 69420 skips the other nodes,
 * 69421 sends only node infos (PhoneAPI.h); the link never uses either.
 */
export function configDump(db: readonly EmulatedNode[], nonce: number, radio: RadioIdentity): FromRadioVariant[] {
  const [own, ...others] = db;
  const onlyNodes = nonce === SPECIAL_NONCE_ONLY_NODES;
  const onlyConfig = nonce === SPECIAL_NONCE_ONLY_CONFIG;
  const out: FromRadioVariant[] = [];
  if (!onlyNodes && own) {
    out.push({
      case: 'myInfo',
      value: create(Mesh.MyNodeInfoSchema, { myNodeNum: own.num, rebootCount: radio.rebootCount, minAppVersion: 30200, nodedbCount: db.length }),
    });
  }
  if (own) out.push({ case: 'nodeInfo', value: nodeInfoOf(own) });
  if (!onlyNodes) {
    out.push({
      case: 'metadata',
      value: create(Mesh.DeviceMetadataSchema, { firmwareVersion: radio.firmwareVersion, deviceStateVersion: 24, hasWifi: true, hasBluetooth: true, hwModel: own?.hwModel ?? 43, hasPKC: true }),
    });
    for (let index = 0; index < MAX_CHANNELS; index++) {
      out.push({
        case: 'channel',
        value: create(ChannelProtos.ChannelSchema, {
          index,
          role: index === 0 ? 1 : 0,
          ...(index === 0 ? { settings: create(ChannelProtos.ChannelSettingsSchema, { name: '', psk: Uint8Array.of(1) }) } : {}),
        }),
      });
    }
    for (const config of configs()) out.push({ case: 'config', value: config });
    for (const moduleConfig of moduleConfigs()) out.push({ case: 'moduleConfig', value: moduleConfig });
  }
  if (!onlyConfig) for (const node of others) out.push({ case: 'nodeInfo', value: nodeInfoOf(node) });
  out.push({ case: 'configCompleteId', value: nonce });
  return out;
}

/** One message per variant, each carrying the variant's default (empty) settings. */
function defaults<M>(wrapper: GenMessage<M & Message>, variants: Array<[string, DescMessage]>): M[] {
  return variants.map(([name, schema]) => create(wrapper, { payloadVariant: { case: name, value: create(schema) } } as never) as M);
}

function configs(): Config[] {
  const C = ConfigProtos;
  return defaults<Config>(C.ConfigSchema, [
    ['device', C.Config_DeviceConfigSchema],
    ['position', C.Config_PositionConfigSchema],
    ['power', C.Config_PowerConfigSchema],
    ['network', C.Config_NetworkConfigSchema],
    ['display', C.Config_DisplayConfigSchema],
    ['lora', C.Config_LoRaConfigSchema],
    ['bluetooth', C.Config_BluetoothConfigSchema],
    ['security', C.Config_SecurityConfigSchema],
  ]);
}

function moduleConfigs(): ModuleConfig[] {
  const M = ModuleConfigProtos;
  return defaults<ModuleConfig>(M.ModuleConfigSchema, [
    ['mqtt', M.ModuleConfig_MQTTConfigSchema],
    ['serial', M.ModuleConfig_SerialConfigSchema],
    ['telemetry', M.ModuleConfig_TelemetryConfigSchema],
  ]);
}
