/**
 * Bodies, queries and answers of the account routes (server/accountRoutes.ts): password change
 * and reset, disabling and deleting users, API tokens, and the audit log.
 */
import { z } from 'zod';
import { Role } from './types.js';

/** Passwords are checked against the site's rules (passwordMinLength) by the server, not here. */
const Password = z.string().min(1).max(1024);

/** `POST /api/auth/password`: the caller's own password. */
export const ChangePasswordBody = z.object({ currentPassword: Password, newPassword: Password }).strict();
export const ChangePasswordAnswer = z.object({ sessionsEnded: z.number().int() });

/** `PATCH /api/users/:username` (admin): a new role, or disable (true) / re-enable (false). */
export const UpdateUserBody = z
  .object({ role: Role.optional(), disabled: z.boolean().optional() })
  .strict()
  .refine((b) => b.role !== undefined || b.disabled !== undefined, 'give role or disabled');

export const UserView = z.object({
  username: z.string(),
  role: z.string(),
  createdAt: z.number(),
  /** When the account was disabled (ms since the epoch); null while it is enabled. */
  disabledAt: z.number().nullable(),
});
export type UserView = z.infer<typeof UserView>;
export const UserAnswer = z.object({ user: UserView });

/** `POST /api/users/:username/password` (admin): the new password, or none to have one generated (answered once). */
export const ResetPasswordBody = z.object({ password: Password.optional() }).strict();
export const ResetPasswordAnswer = z.object({ generatedPassword: z.string().optional(), sessionsEnded: z.number().int() });

/** `DELETE /api/users/:username/sessions` (admin). */
export const RevokeSessionsAnswer = z.object({ sessionsEnded: z.number().int() });

/** `DELETE /api/users/:username?jobs=cancel` (admin): with active runs the delete is refused unless `jobs=cancel`. */
export const DeleteUserQuery = z.object({ jobs: z.enum(['cancel']).optional() }).strict();
export const DeleteUserAnswer = z.object({ deleted: z.string(), jobsDeleted: z.number().int(), schedulesDeleted: z.number().int(), pipelinesDeleted: z.number().int(), uploadsDeleted: z.number().int() });

export const TOKEN_SCOPES = ['read', 'full'] as const;
export const TokenScope = z.enum(TOKEN_SCOPES);
export type TokenScope = z.infer<typeof TokenScope>;
/** API tokens start with this, so that they are recognisable in logs and by secret scanners. */
export const API_TOKEN_PREFIX = 'jvt_';

/** `POST /api/auth/tokens`. */
export const CreateTokenBody = z
  .object({
    name: z.string().trim().min(1).max(64).regex(/^[^\p{Cc}]*$/u, 'no control characters'),
    scope: TokenScope,
    /** Default (and at most): the site's apiTokenMaxDays. */
    expiresInDays: z.number().int().positive().optional(),
  })
  .strict();

export const TokenView = z.object({
  tokenId: z.string(),
  user: z.string(),
  name: z.string(),
  scope: TokenScope,
  /** The token's first characters (`jvt_` and 4 more), to tell tokens apart. */
  prefix: z.string(),
  createdAt: z.number(),
  expiresAt: z.number(),
  lastUsedAt: z.number().nullable(),
  lastUsedFrom: z.string().nullable(),
});
export type TokenView = z.infer<typeof TokenView>;
/** The token itself is in this answer only. */
export const CreateTokenAnswer = z.object({ token: z.string(), tokenInfo: TokenView });
export const TokensAnswer = z.object({ tokens: z.array(TokenView) });

export const AUDIT_ACTIONS = [
  'user.create',
  'user.role',
  'user.disable',
  'user.enable',
  'user.delete',
  'password.change',
  'password.reset',
  'sessions.revoke',
  'token.create',
  'token.revoke',
  'login.failed',
] as const;
export const AuditAction = z.enum(AUDIT_ACTIONS);
export type AuditAction = z.infer<typeof AuditAction>;

/** `GET /api/admin/audit`: newest first; `before` (an entry id) pages on; `user` matches who did it or whom it was done to. */
export const AuditQuery = z
  .object({
    user: z.string().min(1).max(64).optional(),
    action: AuditAction.optional(),
    before: z.coerce.number().int().positive().optional(),
    limit: z.coerce.number().int().positive().max(500).default(50),
  })
  .strict();
export type AuditQuery = z.infer<typeof AuditQuery>;

export const AuditEntry = z.object({
  id: z.number().int(),
  at: z.number(),
  /** Who did it (null for failed logins: nobody logged in). */
  actor: z.string().nullable(),
  action: AuditAction,
  /** Whom it was done to. */
  target: z.string().nullable(),
  /** The client address the request came from. */
  address: z.string().nullable(),
  details: z.record(z.string(), z.unknown()).nullable(),
});
export type AuditEntry = z.infer<typeof AuditEntry>;
/** `next`: the `before` of the next (older) page; null on the last. */
export const AuditAnswer = z.object({ entries: z.array(AuditEntry), next: z.number().nullable() });
