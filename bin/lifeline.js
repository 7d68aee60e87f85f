#!/usr/bin/env node
// The `lifeline` command. Sources are TypeScript, run through tsx (no build step).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../services/cli/main.ts');
try {
  const code = await main(process.argv.slice(2));
  process.exit(code);
} catch (err) {
  process.stderr.write(`lifeline: ${err?.stack ?? err}\n`);
  process.exit(1);
}
