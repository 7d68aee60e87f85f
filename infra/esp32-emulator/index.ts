export * from './emulator.ts';
export * from './nodeDb.ts';
export { configDump, frameFromRadio } from './configDump.ts';
