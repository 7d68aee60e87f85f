import { create, toBinary } from '@bufbuild/protobuf';
import type { DescMessage } from '@bufbuild/protobuf';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createDeframer } from '../../services/esp32-link/framing.ts';
import { ChannelProtos, ConfigProtos, Mesh, ModuleConfigProtos, type FromRadio } from '../../services/esp32-link/meshtasticProtobufs.ts';
import { decodeFromRadio, decodeToRadio, encodeDisconnect, encodeRadioCommand, meshNodeOf, radioFrameOf } from '../../services/esp32-link/radioProtocol.ts';

/** [localName, field number] of every field of a message (oneof members included). */
function fieldsOf(schema: DescMessage): Array<[string, number]> {
  return schema.fields.map((f) => [f.localName, f.number]);
}

describe('the typed shim matches the runtime descriptors of @meshtastic/protobufs', () => {
  it('FromRadio, ToRadio, Heartbeat: the real Meshtastic API field names and numbers', () => {
    expect(fieldsOf(Mesh.FromRadioSchema)).toEqual(
      expect.arrayContaining([
        ['id', 1],
        ['packet', 2],
        ['myInfo', 3],
        ['nodeInfo', 4],
        ['config', 5],
        ['logRecord', 6],
        ['configCompleteId', 7],
        ['rebooted', 8],
        ['moduleConfig', 9],
        ['channel', 10],
        ['queueStatus', 11],
        ['metadata', 13],
      ]),
    );
    expect(fieldsOf(Mesh.ToRadioSchema)).toEqual(expect.arrayContaining([['packet', 1], ['wantConfigId', 3], ['disconnect', 4], ['heartbeat', 7]]));
    expect(fieldsOf(Mesh.HeartbeatSchema)).toEqual([['nonce', 1]]);
    expect(Mesh.FromRadioSchema.oneofs.map((o) => o.localName)).toEqual(['payloadVariant']);
  });

  it('every field the shim types exists with that name', () => {
    const typed: Array<[DescMessage, string[]]> = [
      [Mesh.UserSchema, ['id', 'longName', 'shortName', 'hwModel', 'role', 'publicKey']],
      [Mesh.NodeInfoSchema, ['num', 'user', 'snr', 'lastHeard', 'channel', 'viaMqtt', 'hopsAway', 'isFavorite']],
      [Mesh.MyNodeInfoSchema, ['myNodeNum', 'rebootCount', 'minAppVersion', 'nodedbCount']],
      [Mesh.QueueStatusSchema, ['res', 'free', 'maxlen', 'meshPacketId']],
      [Mesh.LogRecordSchema, ['message', 'time', 'source', 'level']],
      [Mesh.DataSchema, ['portnum', 'payload']],
      [Mesh.MeshPacketSchema, ['from', 'to', 'channel', 'id', 'rxTime', 'decoded', 'encrypted']],
      [Mesh.DeviceMetadataSchema, ['firmwareVersion', 'deviceStateVersion', 'hasWifi', 'hasBluetooth', 'hwModel', 'hasPKC']],
      [ChannelProtos.ChannelSchema, ['index', 'settings', 'role']],
      [ChannelProtos.ChannelSettingsSchema, ['name', 'psk']],
      [ConfigProtos.ConfigSchema, ['device', 'position', 'power', 'network', 'display', 'lora', 'bluetooth', 'security', 'sessionkey', 'deviceUi']],
      [
        ModuleConfigProtos.ModuleConfigSchema,
        ['mqtt', 'serial', 'externalNotification', 'storeForward', 'rangeTest', 'telemetry', 'cannedMessage', 'audio', 'remoteHardware', 'neighborInfo', 'ambientLighting', 'detectionSensor', 'paxcounter', 'statusmessage'],
      ],
    ];
    for (const [schema, names] of typed) {
      const actual = schema.fields.map((f) => f.localName);
      for (const name of names) expect(actual, `${schema.typeName}.${name}`).toContain(name);
    }
  });
});

describe('radioProtocol', () => {
  it('encodes want_config and heartbeat (nonce 0) as framed ToRadio', () => {
    for (const [command, expected] of [
      [{ type: 'radio.wantConfig' as const, nonce: 0xdeadbeef }, { case: 'wantConfigId', value: 0xdeadbeef }],
      [{ type: 'radio.heartbeat' as const }, { case: 'heartbeat' }],
    ] as const) {
      const [event] = createDeframer().push(encodeRadioCommand(command));
      expect(event?.type).toBe('frame');
      const decoded = decodeToRadio((event as { payload: Uint8Array }).payload)!;
      expect(decoded.payloadVariant).toMatchObject(expected);
      if (decoded.payloadVariant.case === 'heartbeat') expect(decoded.payloadVariant.value.nonce).toBe(0);
    }
    const [disconnect] = createDeframer().push(encodeDisconnect());
    expect(decodeToRadio((disconnect as { payload: Uint8Array }).payload)!.payloadVariant).toEqual({ case: 'disconnect', value: true });
  });

  it('maps node_info to a MeshNode: base64 key, id from num when the user is missing', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i);
    const info = create(Mesh.NodeInfoSchema, {
      num: 0xa1b2c3d4,
      lastHeard: 1_700_000_000,
      user: create(Mesh.UserSchema, { id: '!a1b2c3d4', longName: 'Alpha', shortName: 'AL', hwModel: 43, publicKey: key }),
    });
    expect(meshNodeOf(info)).toEqual({ num: 0xa1b2c3d4, id: '!a1b2c3d4', longName: 'Alpha', shortName: 'AL', hwModel: 43, publicKey: Buffer.from(key).toString('base64'), lastHeard: 1_700_000_000 });
    expect(meshNodeOf(create(Mesh.NodeInfoSchema, { num: 255 }))).toMatchObject({ id: '!000000ff', publicKey: null, longName: '' });
  });

  it('maps every FromRadio variant; unknown field numbers become `other`', () => {
    const frame = (payloadVariant: FromRadio['payloadVariant']) =>
      radioFrameOf(decodeFromRadio(toBinary(Mesh.FromRadioSchema, create(Mesh.FromRadioSchema, { payloadVariant })))!);
    expect(frame({ case: 'configCompleteId', value: 42 })).toEqual({ kind: 'configComplete', id: 42 });
    expect(frame({ case: 'rebooted', value: true })).toEqual({ kind: 'rebooted' });
    expect(frame({ case: 'myInfo', value: create(Mesh.MyNodeInfoSchema, { myNodeNum: 7, rebootCount: 3 }) })).toEqual({ kind: 'myInfo', myNodeNum: 7, rebootCount: 3 });
    expect(frame({ case: 'channel', value: create(ChannelProtos.ChannelSchema, { index: 1 }) })).toEqual({ kind: 'configPart', part: 'channel' });
    expect(frame({ case: 'queueStatus', value: create(Mesh.QueueStatusSchema, { free: 3 }) })).toEqual({ kind: 'other', variant: 'queueStatus' });
    // field 99 (length-delimited): no build of the protobufs knows it
    expect(radioFrameOf(decodeFromRadio(Uint8Array.of(0x08, 0x01, 0x9a, 0x06, 0x01, 0x3f))!)).toEqual({ kind: 'other', variant: 'unknown(99)' });
    expect(radioFrameOf(decodeFromRadio(new Uint8Array(0))!)).toEqual({ kind: 'other', variant: 'empty' });
  });

  it('decoding never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const m = decodeFromRadio(bytes);
        if (m) expect(() => radioFrameOf(m)).not.toThrow();
        decodeToRadio(bytes);
      }),
    );
  });
});
