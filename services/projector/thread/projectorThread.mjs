// Entry of the projector's worker thread (services/cli/services/projectorService.ts). The
// sources are TypeScript run through tsx, and a worker thread does not inherit the loader
// its parent registered at runtime: it registers its own.
import { register } from 'tsx/esm/api';

register();
await import('./projectorThreadMain.ts');
