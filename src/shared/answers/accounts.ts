/** Answer schemas of health, login and user accounts (answered by the server itself: src/server/routes.ts). */
import { z } from 'zod';
import type { Caller } from '../types.js';
import type { Same } from './same.js';

export const HealthAnswer = z.object({ ok: z.literal(true), supervisor: z.enum(['up', 'down']) }).strict();
export const CallerAnswer = z.object({ username: z.string(), role: z.string() }).strict().meta({ id: 'Caller', description: 'A user as a login shows them: name and role.' });
export const LoginAnswer = z
  .object({ token: z.string().describe('send as `Authorization: Bearer <token>`; also set as the HttpOnly cookie jobvisor_token'), expiresAt: z.number(), user: CallerAnswer })
  .strict();
export const MeAnswer = z.object({ user: CallerAnswer }).strict();
export const UserAnswer = z
  .object({ username: z.string(), role: z.string(), createdAt: z.number(), disabledAt: z.number().nullable().describe('when the account was disabled; null while it is enabled') })
  .strict()
  .meta({ id: 'User' });
export const UsersAnswer = z.object({ users: z.array(UserAnswer), roles: z.array(z.string()).describe("this site's roles") }).strict();
export const CreatedUserAnswer = z.object({ user: UserAnswer }).strict();

const _caller: Same<z.infer<typeof CallerAnswer>, Caller> = true;
