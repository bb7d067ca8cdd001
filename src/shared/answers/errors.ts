/** The error answer every route may give: `{error: {code, message, details?, id?}}` (src/shared/errors.ts). */
import { z } from 'zod';
import { ERRORS, type ErrorBody, type ErrorCode } from '../errors.js';
import type { Same } from './same.js';

export const ERROR_CODES = Object.keys(ERRORS) as [ErrorCode, ...ErrorCode[]];

export const ErrorAnswer = z
  .object({
    error: z
      .object({
        code: z.enum(ERROR_CODES).describe('A stable code from the error catalog (src/shared/errors.ts).'),
        message: z.string().describe('Shown to users as it is; for INTERNAL only "internal error".'),
        details: z.unknown().optional().describe('More about the error, by code (e.g. BATCH_INVALID: `{errors: [{index, code, message}]}`; 429: `{retryAfterSeconds}`).'),
        id: z.string().optional().describe('INTERNAL only: the id of the server log line that holds the cause.'),
      })
      .strict(),
  })
  .strict();

const _errorBody: Same<z.infer<typeof ErrorAnswer>, ErrorBody> = true;
