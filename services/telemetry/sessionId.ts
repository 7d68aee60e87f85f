import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

export const SESSION_FILE = 'telemetry-session.json';
const sessionFileSchema = z.object({ session_id: z.string().min(1), created_at: z.string() });

export function newSessionId(now: number = Date.now()): string {
  return `s-${now.toString(36)}-${randomBytes(3).toString('hex')}`;
}

/**
 * The monitor's session id: `--session S` when given, else the one stored in
 * `<dataDir>/telemetry-session.json`, else a new one; `newSession` forces a new one.
 * Whatever is chosen is stored, so a restarted monitor keeps its session.
 */
export function resolveSessionId(dataDir: string, options: { session?: string; newSession?: boolean } = {}): { sessionId: string; created: boolean } {
  const path = join(dataDir, SESSION_FILE);
  let stored: string | undefined;
  try {
    stored = sessionFileSchema.parse(JSON.parse(readFileSync(path, 'utf8'))).session_id;
  } catch {
    stored = undefined;
  }
  const sessionId = options.newSession ? (options.session ?? newSessionId()) : (options.session ?? stored ?? newSessionId());
  if (sessionId !== stored) {
    mkdirSync(dataDir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ session_id: sessionId, created_at: new Date().toISOString() })}\n`);
    renameSync(tmp, path);
  }
  return { sessionId, created: sessionId !== stored };
}
