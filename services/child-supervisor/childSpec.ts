import { z } from 'zod';

/** One supervised child process in lifeline.config.json (`children: [...]`). Issue 3 fills this in. */
export const childSpecSchema = z.strictObject({
  name: z.string().min(1),
});
export type ChildSpec = z.infer<typeof childSpecSchema>;
