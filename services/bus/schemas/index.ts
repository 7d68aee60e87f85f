export * from './errorEvent.ts';
export * from './transitionRecord.ts';
export * from './commands.ts';
export * from './projections.ts';
export * from './parse.ts';
export * from './telemetry.ts';
