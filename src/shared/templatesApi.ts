/**
 * The admin view of the templates folder (`GET /api/admin/templates`) and its reload
 * (`POST /api/admin/templates/reload`, empty body): what was loaded, changed, removed, kept in
 * its last good version, and every problem with its file and field (supervisor/templates.ts).
 */
import { z } from 'zod';

export const TemplateProblemView = z.object({
  file: z.string(),
  field: z.string(),
  message: z.string(),
  line: z.number().int().optional(),
  column: z.number().int().optional(),
  template: z.string().optional(),
});

export const TemplatesReloadBody = z.object({}).strict();

export const TemplatesReloadAnswer = z.object({
  at: z.number(),
  trigger: z.string(),
  loaded: z.array(z.string()),
  changed: z.array(z.string()),
  removed: z.array(z.string()),
  kept: z.array(z.object({ name: z.string(), file: z.string(), loadedAt: z.number() })),
  problems: z.array(TemplateProblemView),
});
export type TemplatesReloadAnswer = z.infer<typeof TemplatesReloadAnswer>;

export const AdminTemplatesAnswer = z.object({
  dir: z.string(),
  watching: z.boolean(),
  lastReload: TemplatesReloadAnswer,
  templates: z.array(z.object({ name: z.string(), folder: z.string(), loadedAt: z.number(), kept: z.boolean() })),
  problems: z.array(TemplateProblemView),
  /** Active runs that use a version of their template older than the one offered now. */
  pinnedRuns: z.number().int(),
});
export type AdminTemplatesAnswer = z.infer<typeof AdminTemplatesAnswer>;
