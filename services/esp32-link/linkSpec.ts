import { z } from 'zod';

/** One ESP32 Meshtastic link in lifeline.config.json (`links: [...]`). Issue 6 fills this in. */
export const linkSpecSchema = z.strictObject({
  name: z.string().min(1),
});
export type LinkSpec = z.infer<typeof linkSpecSchema>;
