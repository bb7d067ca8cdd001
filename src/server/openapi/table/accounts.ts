/** Health, login, the caller's account and settings, user accounts (admins). Answered by the server itself. */
import { AccountSettingsBody, CreateUserBody, LoginBody } from '../../../shared/api.js';
import { CreatedUserAnswer, HealthAnswer, LoginAnswer, MeAnswer, UsersAnswer } from '../../../shared/answers/accounts.js';
import { AccountSettingsAnswer } from '../../../shared/answers/places.js';
import { op } from '../describe.js';

export const ACCOUNT_ROUTES = {
  'GET /api/health': op({ summary: 'Is the server up, and can it reach the supervisor?', tags: ['health'], answers: { 200: HealthAnswer }, local: true }),
  'POST /api/auth/login': op({
    summary: 'Log in: a token for Authorization: Bearer, also set as an HttpOnly cookie',
    description: 'Failed logins are limited per account and per address (429 TOO_MANY_ATTEMPTS with Retry-After).',
    tags: ['accounts'],
    body: LoginBody,
    answers: { 200: LoginAnswer },
    errors: ['INVALID_CREDENTIALS', 'TOO_MANY_ATTEMPTS'],
    local: true,
  }),
  'POST /api/auth/logout': op({ summary: 'Log out: revoke the token the request is made with', tags: ['accounts'], answers: { 204: null }, local: true }),
  'GET /api/auth/me': op({ summary: 'Who the token belongs to', tags: ['accounts'], answers: { 200: MeAnswer }, local: true }),
  'GET /api/auth/me/settings': op({ summary: "The caller's e-mail address and when to be e-mailed of a run's end", tags: ['accounts'], answers: { 200: AccountSettingsAnswer }, local: true }),
  'PUT /api/auth/me/settings': op({ summary: "Change the caller's e-mail settings (email: null removes the address)", tags: ['accounts'], body: AccountSettingsBody, answers: { 200: AccountSettingsAnswer }, local: true }),
  'GET /api/users': op({ summary: 'List the user accounts, and the roles of this site', tags: ['admin'], answers: { 200: UsersAnswer }, local: true }),
  'POST /api/users': op({ summary: 'Create a user account', tags: ['admin'], body: CreateUserBody, answers: { 201: CreatedUserAnswer }, errors: ['USER_EXISTS'], local: true }),
} as const;
