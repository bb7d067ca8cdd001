/**
 * `GET /api/auth/session`: who the caller is logged in as, or `user: null` when no valid login
 * comes with the request. Always 200, so a page can ask before any login without an error
 * (the GUI's start; `GET /api/auth/me` answers 401 then).
 */
import { z } from 'zod';

export const AuthSessionAnswer = z.object({
  user: z.object({ username: z.string(), role: z.string() }).nullable(),
});
export type AuthSessionAnswer = z.infer<typeof AuthSessionAnswer>;
