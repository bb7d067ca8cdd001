/** Health, login, the caller's account and settings, user accounts (admins). Answered by the server itself. */
import { AccountSettingsBody, CreateUserBody, LoginBody } from '../../../shared/api.js';
import { CreatedUserAnswer, HealthAnswer, LoginAnswer, MeAnswer, UsersAnswer } from '../../../shared/answers/accounts.js';
import { AccountSettingsAnswer } from '../../../shared/answers/places.js';
import { AuthSessionAnswer } from '../../../shared/authSessionApi.js';
import {
  AuditAnswer,
  AuditQuery,
  ChangePasswordAnswer,
  ChangePasswordBody,
  CreateTokenAnswer,
  CreateTokenBody,
  DeleteUserAnswer,
  DeleteUserQuery,
  ResetPasswordAnswer,
  ResetPasswordBody,
  RevokeSessionsAnswer,
  TokensAnswer,
  UpdateUserBody,
  UserAnswer as ChangedUserAnswer,
} from '../../../shared/accountsApi.js';
import { op } from '../describe.js';

export const ACCOUNT_ROUTES = {
  'GET /api/health': op({ summary: 'Is the server up, and can it reach the supervisor?', tags: ['health'], answers: { 200: HealthAnswer }, local: true }),
  'POST /api/auth/login': op({
    summary: 'Log in: a token for Authorization: Bearer, also set as an HttpOnly cookie',
    description: 'Failed logins are limited per account and per address (429 TOO_MANY_ATTEMPTS with Retry-After).',
    tags: ['accounts'],
    body: LoginBody,
    answers: { 200: LoginAnswer },
    errors: ['INVALID_CREDENTIALS', 'TOO_MANY_ATTEMPTS', 'ACCOUNT_DISABLED'],
    local: true,
  }),
  'POST /api/auth/logout': op({ summary: 'Log out: revoke the token the request is made with', tags: ['accounts'], answers: { 204: null }, local: true }),
  'GET /api/auth/session': op({ summary: 'Who the request is logged in as, or user: null (always 200: a page may ask before any login)', tags: ['accounts'], answers: { 200: AuthSessionAnswer }, local: true }),
  'GET /api/auth/me': op({ summary: 'Who the token belongs to', tags: ['accounts'], answers: { 200: MeAnswer }, local: true }),
  'GET /api/auth/me/settings': op({ summary: "The caller's e-mail address and when to be e-mailed of a run's end", tags: ['accounts'], answers: { 200: AccountSettingsAnswer }, local: true }),
  'PUT /api/auth/me/settings': op({ summary: "Change the caller's e-mail settings (email: null removes the address)", tags: ['accounts'], body: AccountSettingsBody, answers: { 200: AccountSettingsAnswer }, local: true }),
  'GET /api/users': op({ summary: 'List the user accounts, and the roles of this site', tags: ['admin'], answers: { 200: UsersAnswer }, local: true }),
  'POST /api/users': op({ summary: 'Create a user account', tags: ['admin'], body: CreateUserBody, answers: { 201: CreatedUserAnswer }, errors: ['USER_EXISTS'], local: true }),
  'POST /api/auth/password': op({
    summary: "Change the caller's own password; the caller's other sessions end",
    description: 'Needs a login session (an API token is refused with SESSION_REQUIRED).',
    tags: ['accounts'],
    body: ChangePasswordBody,
    answers: { 200: ChangePasswordAnswer },
    errors: ['WRONG_PASSWORD', 'PASSWORD_REJECTED', 'SESSION_REQUIRED', 'TOO_MANY_ATTEMPTS'],
    local: true,
  }),
  'GET /api/auth/tokens': op({ summary: "The caller's API tokens (never the tokens themselves)", tags: ['accounts'], answers: { 200: TokensAnswer }, local: true }),
  'POST /api/auth/tokens': op({
    summary: 'Create an API token for scripts (`jvt_...`, shown once; scope read or full)',
    tags: ['accounts'],
    body: CreateTokenBody,
    answers: { 201: CreateTokenAnswer },
    errors: ['SESSION_REQUIRED', 'TOKEN_LIMIT'],
    local: true,
  }),
  'DELETE /api/auth/tokens/:tokenId': op({ summary: 'Revoke one of the caller\'s API tokens', tags: ['accounts'], answers: { 204: null }, errors: ['TOKEN_NOT_FOUND'], local: true }),
  'PATCH /api/users/:username': op({
    summary: "Change a user's role, or disable / re-enable the account (a disabled user's sessions and tokens stop at once)",
    tags: ['admin'],
    body: UpdateUserBody,
    answers: { 200: ChangedUserAnswer },
    errors: ['USER_NOT_FOUND', 'LAST_ADMIN'],
    local: true,
  }),
  'DELETE /api/users/:username': op({
    summary: 'Delete a user with their jobs, files, schedules, pipelines and uploads (refused while they have active runs unless ?jobs=cancel)',
    tags: ['admin'],
    query: DeleteUserQuery,
    answers: { 200: DeleteUserAnswer },
    errors: ['USER_NOT_FOUND', 'LAST_ADMIN', 'USER_HAS_ACTIVE_RUNS', 'LOGIN_REQUIRED'],
    local: true,
  }),
  'POST /api/users/:username/password': op({
    summary: "Reset a user's password: the one given, or a generated one shown once; their sessions end",
    tags: ['admin'],
    body: ResetPasswordBody,
    answers: { 200: ResetPasswordAnswer },
    errors: ['USER_NOT_FOUND', 'PASSWORD_REJECTED'],
    local: true,
  }),
  'DELETE /api/users/:username/sessions': op({ summary: "End all of a user's login sessions", tags: ['admin'], answers: { 200: RevokeSessionsAnswer }, errors: ['USER_NOT_FOUND'], local: true }),
  'GET /api/users/:username/tokens': op({ summary: "A user's API tokens", tags: ['admin'], answers: { 200: TokensAnswer }, errors: ['USER_NOT_FOUND'], local: true }),
  'DELETE /api/users/:username/tokens/:tokenId': op({ summary: "Revoke a user's API token", tags: ['admin'], answers: { 204: null }, errors: ['USER_NOT_FOUND', 'TOKEN_NOT_FOUND'], local: true }),
  'GET /api/admin/audit': op({ summary: 'The audit log of account changes, newest first (paged with `before`)', tags: ['admin'], query: AuditQuery, answers: { 200: AuditAnswer }, local: true }),
} as const;
