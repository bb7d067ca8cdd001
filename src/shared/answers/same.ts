/**
 * Compile-time guard that an answer schema (zod) and the interface the code builds that answer
 * with are the same type: `true` only when each is assignable to the other. A field added to the
 * interface and not to the schema (or the other way round) fails `npm run typecheck` at the
 * `const _x: Same<...> = true` line that names both.
 */
export type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
