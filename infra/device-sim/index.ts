export * from './behavior.ts';
export * from './messages.ts';
export * from './simDevice.ts';
export * from './simFleet.ts';
export { LineSplitter, type LineSplitterOptions } from './lineSplitter.ts';
export { seededRandom, pickDistinct } from './random.ts';
